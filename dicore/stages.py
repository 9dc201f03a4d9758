"""The study's analysis stages: results -> sweeps, trade-offs, defence and calibration rows.

Each stage is a function of the observations (or of the metric rows) and returns what
`dicore.tables` defines; `dicore.study` runs them in order and writes their files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from dicore import paper
from dicore.tables import (
    GENUINE_KEEP,
    analytic_defence_table,
    comparison_rows,
    sweep_curves,
    tradeoff_curves,
)

TRADEOFF_POINTS = 101  # taus per vendor, from its reporting floor to 100 (one compile)


def protocol_split(obs, vocab, protocol: str, dev_fraction: float, split_seed: int):
    """(dev_rows or None, the protocol record for sweeps.json) for --protocol."""
    if protocol == "all":
        return None, None
    return protocol_record(np.asarray(obs.dataset), np.asarray(obs.target), vocab, protocol,
                           dev_fraction, split_seed)


def protocol_record(dataset, target, vocab, protocol: str, dev_fraction: float, split_seed: int):
    """(dev side of each (dataset, target) row, the protocol record) for --protocol
    dev-eval. The split depends only on which (dataset, target) pairs occur, so the
    streaming path passes each pair once (and counts the rows itself)."""
    from dicore.core.protocol import split_identities

    if protocol != "dev-eval":
        raise ValueError(f"protocol must be 'all' or 'dev-eval', got {protocol!r}")
    dev = split_identities(dataset, target, dev_fraction=dev_fraction, seed=split_seed)
    sides: dict[str, dict[str, list[str]]] = {"dev": {}, "eval": {}}
    for d, t, is_dev in sorted(set(zip(np.asarray(dataset).tolist(),
                                       np.asarray(target).tolist(), dev.tolist(), strict=True))):
        sides["dev" if is_dev else "eval"].setdefault(vocab.datasets[d], []).append(
            vocab.identities[t])
    record = {
        "name": "dev-eval", "dev_fraction": float(dev_fraction), "split_seed": int(split_seed),
        "unit": "target identity, stratified by dataset (dicore.core.protocol)",
        "note": "operating points chosen on dev, reported on eval (curves: eval; dev_*: dev)",
        "n_dev_rows": int(dev.sum()), "n_eval_rows": int((~dev).sum()),
        "dev_identities": sides["dev"], "eval_identities": sides["eval"],
    }
    return dev, record


def compute_sweeps(obs, vocab, *, dev_rows=None):
    """(sweep curves, trade-off curves) in `dicore.tables`' form.

    Sweeps: DHC over beta and DHS over gamma per (dataset, vendor), grid 0..100 step 1.
    Trade-offs: per vendor over all datasets, TA and genuine recognition if the vendor
    reported names only at confidence >= tau, for tau from the vendor's floor to 100
    (below the floor the data are censored), with the operating points of
    docs/thresholds.md.
    """
    return sweep_curves(obs, vocab), compute_tradeoffs(obs, vocab, dev_rows=dev_rows)


def compute_tradeoffs(obs, vocab, *, attack: str = "TA", genuine_keep: float = GENUINE_KEEP,
                      dev_rows=None):
    """Per-vendor trade-off curves (all datasets pooled), `TRADEOFF_POINTS` taus from each
    vendor's floor to 100, operating points by `dicore.tables.tradeoff_curves`' rule."""
    floors = paper.reporting_floors()
    taus = {v: np.linspace(f, 100.0, TRADEOFF_POINTS, dtype=np.float64) for v, f in floors.items()}
    return tradeoff_curves(obs, vocab, floors=floors, taus=taus, attack=attack,
                           genuine_keep=genuine_keep, pooled=True, dev_rows=dev_rows)


def compute_defence(metrics: list[dict]) -> list[dict]:
    """Table 2 style rows: the paper's detectors (by accuracy) in front of these TA/NA rates."""
    before = {
        (r["dataset"], r["vendor"], r["metric"]): r["value"]
        for r in metrics
        if r["metric"] in ("TA", "NA") and r["value"] is not None
    }
    detectors: dict[str, dict[str, float]] = {}
    for r in paper.table2():
        if r.dataset != paper.COMBINED:
            detectors.setdefault(r.dataset, {})[r.detector] = r.detector_acc
    dets = {d: sorted(v.items()) for d, v in detectors.items() if any(k[0] == d for k in before)}
    return analytic_defence_table(before, dets)


def calibration_rows(metrics: list[dict]) -> list[dict]:
    """Every TA/NA cell next to the paper's value (the simulated-vs-paper table)."""
    return [asdict(r) for r in comparison_rows(metrics)]


# ---- breakdowns: per identity, hit landing, per video, groups, detectors, distributions ----

# Results columns every study groups by (a manifest's extra columns are added to these).
DEFAULT_GROUP_COLUMNS = ("method",)


@dataclass
class Breakdowns:
    """What `compute_breakdowns` gives (rows as `dicore.breakdowns` makes them)."""

    per_identity: list[dict] = field(default_factory=list)
    landing: list[dict] = field(default_factory=list)  # metrics.json extra rows
    per_video: list[dict] = field(default_factory=list)
    video_metrics: list[dict] = field(default_factory=list)  # metrics.json extra rows
    groups: list[dict] = field(default_factory=list)
    group_columns: list[str] = field(default_factory=list)
    name_repeats: list[dict] = field(default_factory=list)
    detectors: list[dict] = field(default_factory=list)
    det: list[dict] = field(default_factory=list)
    detectors_simulated: bool = True
    distributions: list[dict] = field(default_factory=list)


def simulated_detector_scores(obs, vocab, seed: int = 0):
    """SIMULATED scores of the paper's detectors (Table 2 accuracies, per dataset), one per
    image: {dataset: (row mask (N,), detector names, scores (N_d, D))}, rows of the first
    vendor that has the image (every vendor sees the same filter)."""
    import jax

    from dicore.core.defence import simulate_detector_scores

    accs: dict[str, dict[str, float]] = {}
    for r in paper.table2():
        if r.dataset != paper.COMBINED:
            accs.setdefault(r.dataset, {})[r.detector] = r.detector_acc
    dataset = np.asarray(obs.dataset)
    first = np.zeros(obs.n, bool)
    first[np.unique(np.asarray(obs.item), return_index=True)[1]] = True
    present = [(d, name) for d, name in enumerate(vocab.datasets) if name in accs]
    columns = [(name, det) for _, name in present for det in sorted(accs[name])]
    if not columns:
        return {}
    # One draw for every image and every (dataset, detector); each dataset keeps its own.
    scores = np.asarray(jax.jit(simulate_detector_scores)(
        jax.random.key(seed), np.asarray(obs.is_fake)[first],
        np.array([accs[name][det] for name, det in columns])), np.float64)
    out = {}
    for d, name in present:
        mask = first & (dataset == d)
        cols = [k for k, (ds, _) in enumerate(columns) if ds == name]
        out[name] = (mask, [columns[k][1] for k in cols], scores[(dataset[first] == d)][:, cols])
    return out


def compute_breakdowns(obs, vocab, extra: dict[str, list], *, beta: float, gamma: float,
                       group_columns=DEFAULT_GROUP_COLUMNS, seed: int = 0) -> Breakdowns:
    """All breakdowns of a study. `extra`: per-row string columns beyond the contract
    (`source_video`, manifest columns); `group_columns` names those (or results columns)
    to group by."""
    from dicore import breakdowns as bd

    b = Breakdowns()
    b.per_identity = bd.per_identity_rows(obs, vocab)
    b.landing = bd.landing_rows(obs, vocab)
    video = extra.get("source_video")
    if video is not None and any(video):
        b.per_video, b.video_metrics = bd.video_tables(obs, vocab, video)
    b.name_repeats = bd.name_repeat_rows(obs, vocab)
    for column in group_columns:
        labels = extra.get(column)
        if labels is None and column == "method":
            labels = np.asarray(vocab.methods, dtype=object)[np.asarray(obs.method)].tolist()
        if labels is None:
            continue
        b.group_columns.append(column)
        b.groups += bd.group_metric_rows(obs, vocab, labels, column, beta=beta, gamma=gamma)
        b.name_repeats += bd.name_repeat_rows(obs, vocab, labels, column)
    simulated = simulated_detector_scores(obs, vocab, seed)
    pad = max((int(m.sum()) for m, _, _ in simulated.values()), default=0)
    for name, (mask, dets, scores) in simulated.items():
        vids = None if video is None else np.asarray(video, dtype=object)[mask].tolist()
        fake = np.asarray(obs.is_fake)[mask]
        b.detectors += bd.detector_rows(scores, fake, [name] * int(mask.sum()), dets,
                                        video=vids, source="simulated",
                                        pad_to=bd.bucket(pad), videos_pad=bd.bucket(pad))
        b.det += [{"dataset": name, **c}
                  for c in bd.det_curves(scores, fake, dets, pad_to=bd.bucket(pad))]
    b.distributions = bd.score_distributions(obs, vocab)
    return b


def write_breakdowns(out, b: Breakdowns, *, beta: float, gamma: float, simulated: bool) -> dict:
    """per_identity.csv, per_video.csv (when there are videos), groups.json, detectors.json."""
    from dicore.formats import detectors_json, groups_json, per_identity_csv, per_video_csv

    files = {"per_identity": per_identity_csv.write_per_identity_csv(
        out / "per_identity.csv", b.per_identity)}
    if b.per_video:
        files["per_video"] = per_video_csv.write_per_video_csv(out / "per_video.csv", b.per_video)
    files["groups"] = groups_json.write_groups_json(
        out / "groups.json", b.groups, b.name_repeats, columns=b.group_columns, beta=beta,
        gamma=gamma, simulated=simulated)
    if b.detectors:
        files["detectors"] = detectors_json.write_detectors_json(
            out / "detectors.json", b.detectors, b.det, simulated=b.detectors_simulated)
    return files


def manifest_columns(cols: dict, manifest) -> dict[str, list[str]]:
    """A manifest's extra columns (`Manifest.extra`), aligned with the results rows by
    item_id ("" for an item the manifest lacks); none that the results already have."""
    if manifest is None or not getattr(manifest, "extra", None):
        return {}
    index = {r.item_id: i for i, r in enumerate(manifest.rows)}
    return {c: [values[index[i]] if i in index else "" for i in cols["item_id"]]
            for c, values in manifest.extra.items() if c not in cols}
