"""The Naver CLOVA simulator driven by ``requests`` multipart (Naver ships no SDK)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests

from simulators.servers import SIMULATED_HEADER, make_app, serve_in_thread
from simulators.servers.naver import NaverError, parse_multipart
from simulators.vendor import default_vendor

PHOTOS = Path(__file__).resolve().parents[1] / "simulators" / "photos"
KEYS = {"X-NCP-APIGW-API-KEY-ID": "client-id", "X-NCP-APIGW-API-KEY": "client-secret"}
PATH = "/vision/v1/celebrity"
RUN_SERVE = (
    "import argparse, sys; from dicore.commands import serve; "
    "p = argparse.ArgumentParser(); serve.add_arguments(p); sys.exit(serve.run(p.parse_args()))"
)


def photo(name: str) -> bytes:
    return (PHOTOS / name).read_bytes()


@pytest.fixture(scope="module")
def server():
    app = make_app("naver", default_vendor("naver"), key_id="client-id", key="client-secret")
    with serve_in_thread(app) as srv:
        yield srv


@pytest.fixture(scope="module")
def session():
    with requests.Session() as s:  # keep-alive across the tests
        yield s


def call(server, session, files=None, headers=KEYS, path=PATH, **kw):
    return session.post(server.url + path, files=files, headers=headers, timeout=30, **kw)


def test_names_obama_with_confidence_in_0_1(server, session):
    r = call(server, session, files={"image": ("obama.jpg", photo("obama.jpg"), "image/jpeg")})
    assert r.status_code == 200 and r.headers[SIMULATED_HEADER] == "true"
    body = r.json()
    assert body["info"] == {"size": {"width": 682, "height": 785}, "faceCount": 1}
    (face,) = body["faces"]
    assert face["celebrity"]["value"] == "Barack Obama"
    assert 0.0 < face["celebrity"]["confidence"] <= 1.0
    assert set(face) == {"celebrity"}  # no bounding box in CFR's celebrity answers
    assert body["simulated"] is True


def test_always_names_someone(server, session):
    """Naver's policy: a name for every face, even strangers' (insightface's group photo)."""
    import insightface

    group = (Path(insightface.__file__).parent / "data" / "images" / "t1.jpg").read_bytes()
    body = call(server, session, files={"image": group}).json()
    assert body["info"]["faceCount"] == len(body["faces"]) >= 4
    gallery = {"Barack Obama", "Rishi Sunak", "Emmanuel Macron", "Jacinda Ardern"}
    for face in body["faces"]:
        assert face["celebrity"]["value"] and face["celebrity"]["value"] not in gallery
        assert 0.0001 <= face["celebrity"]["confidence"] <= 1.0


def test_no_face(server, session):
    blank = cv2.imencode(".png", np.full((100, 100, 3), 255, np.uint8))[1].tobytes()
    body = call(server, session, files={"image": blank}).json()
    assert body["faces"] == [] and body["info"]["faceCount"] == 0


@pytest.mark.parametrize(
    ("headers", "status", "code", "details"),
    [
        ({}, 401, "200", "Authentication information are missing."),
        (
            {"X-NCP-APIGW-API-KEY-ID": "client-id"},
            401,
            "200",
            "Authentication information are missing.",
        ),
        (
            {**KEYS, "X-NCP-APIGW-API-KEY": "wrong"},
            401,
            "200",
            "Invalid authentication information.",
        ),
    ],
)
def test_gateway_auth_errors(server, session, headers, status, code, details):
    r = call(server, session, files={"image": photo("obama.jpg")}, headers=headers)
    assert r.status_code == status and r.headers[SIMULATED_HEADER] == "true"
    assert r.json() == {
        "error": {"errorCode": code, "message": "Authentication Failed", "details": details}
    }


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"files": {"image": photo("obama.jpg") + b"\0" * (2 * 1024 * 1024)}}, "too_large"),
        ({"files": {"image": b"definitely not an image"}}, "format"),
        ({"files": {"photo": photo("obama.jpg")}}, "'image' is required"),
        ({"files": {"image": photo("obama.jpg"), "extra": b"1"}}, "unknown multipart"),
        ({"data": photo("obama.jpg")}, "multipart/form-data"),
    ],
    ids=["over-2MB", "garbage", "wrong-field", "extra-field", "not-multipart"],
)
def test_input_errors(server, session, kw, needle):
    r = call(server, session, **kw)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["errorCode"] == "100" and err["message"] == "Bad Request Exception"
    assert needle in err["details"]


def test_exactly_2mb_is_accepted(server, session):
    data = photo("obama.jpg")
    data += b"\0" * (2 * 1024 * 1024 - len(data))
    r = call(server, session, files={"image": data})
    assert r.status_code == 200 and r.json()["faces"][0]["celebrity"]["value"] == "Barack Obama"


def test_unknown_path_is_the_gateway_404(server, session):
    r = call(server, session, files={"image": photo("obama.jpg")}, path="/vision/v1/face")
    assert r.status_code == 404 and r.json()["error"]["errorCode"] == "300"


def test_concurrent_clients(server):
    def one(name: str) -> str:
        with requests.Session() as s:
            return call(server, s, files={"image": photo(name)}).json()["faces"][0]["celebrity"][
                "value"
            ]

    names = ["obama.jpg", "sunak.jpg"] * 6
    with ThreadPoolExecutor(6) as pool:
        got = list(pool.map(one, names))
    assert got == ["Barack Obama", "Rishi Sunak"] * 6


def test_multipart_parser():
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n\r\n--Xy\r\nbytes\r\n--XyZ--\r\n"
    )
    assert parse_multipart('multipart/form-data; boundary="XyZ"', body) == {
        "image": b"\r\n--Xy\r\nbytes"
    }
    for ct, bad in [
        ("multipart/form-data", body),
        ("multipart/form-data; boundary=XyZ", body.replace(b"--XyZ--", b"")),
        ("multipart/form-data; boundary=XyZ", b"--XyZ\r\nno header end\r\n--XyZ--\r\n"),
        ("multipart/form-data; boundary=XyZ", b"--XyZ\r\nX-A: 1\r\n\r\ndata\r\n--XyZ--\r\n"),
    ]:
        with pytest.raises(NaverError):
            parse_multipart(ct, bad)


def test_dicore_serve_command(tmp_path):
    """`dicore serve naver --port 0`: prints its URL, answers, and stops cleanly on Ctrl-C.

    Runs the command module as dicore.cli does, without importing every other command."""
    import os
    import re
    import signal
    import subprocess
    import sys

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_SERVE, "naver", "--port", "0", "--key", "k"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        url = None
        for line in proc.stdout:
            m = re.search(
                r"SIMULATED naver API \(not the real vendor\) on (http://127\.0\.0\.1:\d+)", line
            )
            if m:
                url = m.group(1)
                break
        if url is None:
            proc.kill()
            pytest.fail(f"dicore serve printed no URL; stderr:\n{proc.communicate()[1]}")
        headers = {"X-NCP-APIGW-API-KEY-ID": "id", "X-NCP-APIGW-API-KEY": "k"}
        r = requests.post(
            url + PATH, files={"image": photo("obama.jpg")}, headers=headers, timeout=60
        )
        assert r.json()["faces"][0]["celebrity"]["value"] == "Barack Obama"
        bad = requests.post(
            url + PATH,
            files={"image": photo("obama.jpg")},
            headers={**headers, "X-NCP-APIGW-API-KEY": "x"},
            timeout=60,
        )
        assert bad.status_code == 401
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "stopped the simulated naver API" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_dicore_serve_refuses_a_bad_gallery(tmp_path):
    import argparse

    from dicore.commands import serve
    from dicore.errors import UserError

    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    (tmp_path / "empty").mkdir()
    for gallery in (tmp_path / "empty", tmp_path / "nothing.txt"):
        with pytest.raises(UserError) as info:
            serve.run(parser.parse_args(["naver", "--port", "0", "--gallery", str(gallery)]))
        assert info.value.hint
    with pytest.raises(UserError):
        serve.run(parser.parse_args(["azure", "--face-ttl", "30"]))
