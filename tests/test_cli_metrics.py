"""The `dicore metrics` command, called through its module (argparse + run)."""

from __future__ import annotations

import argparse
import csv
import json

import pytest

from dicore.commands import metrics as command
from dicore.errors import UserError
from dicore.formats.results import RESULT_COLUMNS


def parse(argv):
    parser = argparse.ArgumentParser(prog="dicore metrics", description=command.__doc__)
    command.add_arguments(parser)
    return parser.parse_args(argv)


def write_results(path, backend="sim"):
    rows = []
    for vendor in ("aws", "naver"):
        rows.append(
            dict(
                vendor=vendor,
                item_id="r1",
                is_fake="false",
                real_item_id="",
                target="A",
                predicted="A",
                confidence="90",
            )
        )
        rows.append(
            dict(
                vendor=vendor,
                item_id="r2",
                is_fake="false",
                real_item_id="",
                target="B",
                predicted="",
                confidence="",
            )
        )
        for k, (pred, conf, sim) in enumerate(
            [("A", "95", ""), ("", "", "85" if vendor == "aws" else ""), ("C", "90", "")]
        ):
            rows.append(
                dict(
                    vendor=vendor,
                    item_id=f"f{k}",
                    is_fake="true",
                    real_item_id="r1" if k < 2 else "r2",
                    target="A" if k < 2 else "B",
                    predicted=pred,
                    confidence=conf,
                    similarity=sim,
                )
            )
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS)
        w.writeheader()
        for r in rows:
            fake = r["is_fake"] == "true"
            w.writerow(
                {
                    "backend": backend,
                    "dataset": "CelebDF",
                    "method": "replacement" if fake else "real",
                    "reference": "",
                    "similarity": "",
                    **r,
                }
            )


def test_module_contract():
    assert command.NAME == "metrics" and command.HELP
    assert "dicore metrics --results" in command.__doc__
    args = parse(["--results", "r.csv"])
    assert (args.beta, args.gamma, args.ci, args.out) == (90.0, 80.0, "wilson", None)
    command._check_options(args)  # --out resolves to metrics.json (groups.json with --group-by)
    assert args.out == "metrics.json"
    grouped = parse(["--results", "r.csv", "--group-by", "gender"])
    command._check_options(grouped)
    assert grouped.out == "groups.json"


def test_run_writes_metrics_json(tmp_path, capsys):
    results, out = tmp_path / "results.csv", tmp_path / "metrics.json"
    write_results(results)
    assert command.run(parse(["--results", str(results), "--out", str(out)])) == 0
    data = json.loads(out.read_text())
    assert (data["beta"], data["gamma"], data["simulated"]) == (90.0, 80.0, True)
    got = {(r["vendor"], r["metric"]): r for r in data["rows"]}
    # CelebDF x (aws, naver) x (6 metrics + IAPMR + FNMR); azure has no rows, no impostors
    assert len(data["rows"]) == 16
    # aws: fakes f0 (A 95 > real 90: TA, DHC, DHF), f1 (unnamed, sim 85: DHS), f2 (C 90 vs unnamed real).
    assert got["aws", "TA"]["value"] == pytest.approx(100 / 3) and got["aws", "TA"]["n"] == 3
    assert got["aws", "DHF"]["value"] == pytest.approx(200 / 3)
    assert got["aws", "DHC"]["value"] == 50.0 and got["aws", "DHC"]["n"] == 2  # 90 is not > 90
    assert got["aws", "DHS"]["value"] == 100.0 and got["aws", "DHS"]["n"] == 1
    assert got["aws", "SIC"]["value"] == 50.0 and got["aws", "SIC"]["n"] == 2
    assert got["naver", "DHS"] == {
        "dataset": "CelebDF",
        "vendor": "naver",
        "metric": "DHS",
        "value": None,
        "ci_low": None,
        "ci_high": None,
        "n": 0,
    }
    for r in data["rows"]:
        if r["n"]:
            assert 0 <= r["ci_low"] <= r["value"] <= r["ci_high"] <= 100
    assert "SIMULATED" in capsys.readouterr().out


def test_thresholds_and_live_backend(tmp_path):
    results, out = tmp_path / "results.csv", tmp_path / "m.json"
    write_results(results, backend="live")
    command.run(
        parse(["--results", str(results), "--beta", "89.5", "--gamma", "85", "--out", str(out)])
    )
    data = json.loads(out.read_text())
    got = {(r["vendor"], r["metric"]): r["value"] for r in data["rows"]}
    assert data["simulated"] is False and data["beta"] == 89.5
    assert got["aws", "DHC"] == 100.0 and got["aws", "DHS"] == 0.0  # 85 is not > 85


def test_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        command.run(parse(["--results", str(tmp_path / "missing.csv")]))
    with pytest.raises(UserError, match="--beta 120.0 is outside 0..100"):
        command.run(parse(["--results", "x.csv", "--beta", "120"]))
    with pytest.raises(UserError, match="--level"):
        command.run(parse(["--results", "x.csv", "--level", "95"]))
    bad = tmp_path / "bad.csv"
    write_results(bad)
    text = bad.read_text().replace("aws,sim,CelebDF,real,r1", "aws,sim,CelebDF,real,r1x", 1)
    bad.write_text(text)
    with pytest.raises(
        UserError,
        match=r"(?s)bad.csv: 2 invalid.*row 3, real_item_id: paired real item 'r1'.*row 4, real_item_id",
    ):
        command.run(parse(["--results", str(bad), "--out", str(tmp_path / "o.json")]))
    assert not (tmp_path / "o.json").exists()
