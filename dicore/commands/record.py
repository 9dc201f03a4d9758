"""Record vendor calls into a vcrpy cassette (for the replay backend and contract tests).

Every image in DIR (.jpg/.jpeg/.png, sorted) is sent to celebrity recognition; for
AWS and Azure each consecutive pair is also sent to face similarity. The calls go
through the same live clients as `--backend live`, to the vendor (keys from the
environment) or to any endpoint (`--endpoint`, e.g. `dicore serve`).

Secret headers are dropped, URLs lose user-info and credential query parameters,
and images are stored as sha256 digests. Everything about to be written (the
cassette, the provenance sidecar with its endpoint and command line, and the
inlined images) is scanned for every configured key value, whatever its length,
and for credential-shaped strings (key headers, AWS key ids, signatures, tokens
in URLs, user:password@ URLs, bearer tokens, private keys); if any is found,
nothing is written. A sidecar NAME.provenance.json says where it came from:
`simulator` (responses marked by `dicore serve`), `live` (the vendor's own host,
with date and region), `documentation` (--from-docs) or `other`.

Examples:
  dicore serve aws --port 8765 &
  dicore record --vendor aws --images simulators/photos --endpoint http://127.0.0.1:8765 \\
      --out cassettes/aws/simulator_photos.yaml
  AWS_PROFILE=me AWS_REGION=us-east-1 dicore record --vendor aws --images my_photos \\
      --out cassettes/aws/live_2026-01-01.yaml
  dicore record --vendor azure --images simulators/photos --simulator   # in-process server
  dicore record --vendor naver --from-docs --out cassettes/naver/docs_examples.yaml

Over 400 lines because recording is one job with three parts that only make sense
together: the scripted local proxy, the vcrpy session, and the provenance it writes.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import shlex
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import dicore
from dicore.backends.cassettes import (
    find_secrets,
    find_secrets_in_provenance,
    header_value,
    make_vcr,
    provenance_path,
    read_provenance,
    sanitize_text,
    sanitize_url,
    sha256,
)
from dicore.core.vocab import SIMULATED_HEADER, SIMULATED_LABEL
from dicore.errors import UserError

NAME = "record"
HELP = "record vendor calls (live or simulated) into a scrubbed vcrpy cassette"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# Hosts that are the real vendor: only these can make a cassette `live`.
VENDOR_HOSTS = {
    "aws": (".amazonaws.com",),
    "azure": (".cognitiveservices.azure.com", ".api.cognitive.microsoft.com"),
    "naver": ("naveropenapi.apigw.ntruss.com", ".naver.com"),
}
INLINE_MAX_BYTES = 2048


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vendor", required=True, choices=dicore.VENDORS)
    parser.add_argument("--images", metavar="DIR", help="folder of .jpg/.jpeg/.png images to send")
    parser.add_argument(
        "--endpoint",
        metavar="URL",
        help="send to this base URL instead of the vendor (default: env DICORE_<VENDOR>_ENDPOINT, "
        "else the vendor's API with keys from the environment)",
    )
    parser.add_argument(
        "--out", metavar="PATH", help="cassette to write (default cassettes/VENDOR/SOURCE_DATE.yaml)"
    )
    parser.add_argument(
        "--simulator",
        action="store_true",
        help="start this vendor's simulator in-process on a free loopback port and record from it",
    )
    parser.add_argument(
        "--no-similarity", action="store_true", help="record celebrity recognition only"
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing cassette")
    parser.add_argument(
        "--from-docs",
        action="store_true",
        help="record the vendor's documented example responses (served by a local stub, "
        "with repository photos as stand-in requests) instead of calling anything",
    )


def run(args: argparse.Namespace) -> int:
    if args.from_docs:
        out = record_docs(args.vendor, args.out, force=args.force)
    else:
        if not args.images:
            raise UserError("--images DIR is required", hint="or use --from-docs")
        kw = dict(out=args.out, similarity=not args.no_similarity, force=args.force,
                  command=" ".join(["dicore", *map(shlex.quote, sys.argv[1:])]))
        if args.simulator:
            if args.endpoint:
                raise UserError("--simulator and --endpoint exclude each other")
            from simulators.servers import make_app, serve_in_thread

            with serve_in_thread(make_app(args.vendor)) as server:
                out = record_images(args.vendor, Path(args.images), endpoint=server.url, **kw)
        else:
            out = record_images(args.vendor, Path(args.images), endpoint=args.endpoint, **kw)
    prov = read_provenance(out)
    print(f"wrote {out} ({prov['source']}, {len(prov['calls'])} calls)")
    return 0


# --- recording through the live clients -------------------------------------------------


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _out_path(vendor: str, out: str | None, source_hint: str, force: bool) -> Path:
    path = Path(out) if out else Path("cassettes") / vendor / f"{source_hint}_{dt.date.today()}.yaml"
    if path.suffix not in (".yaml", ".yml"):
        raise UserError(f"--out {path} must end in .yaml")
    if path.exists() and not force:
        raise UserError(f"cassette {path} already exists", hint="pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _outcome(fn) -> dict:
    """What a call gave, as stored in provenance and asserted by the contract tests."""
    from dicore.backends.base import BackendError

    try:
        value = fn()
    except BackendError as exc:
        return {"error": type(exc).__name__, "code": exc.code, "status": exc.status}
    except UserError as exc:  # credentials refused: recorded only in --from-docs
        return {"error": "UserError", "message": str(exc)}
    if hasattr(value, "predicted"):
        return {"predicted": value.predicted, "confidence": value.confidence, "face_count": value.face_count}
    return {"similarity": value}


def _client_secrets(client) -> tuple[str, ...]:
    """Key values the client actually sent, so the scan finds them even if not in env."""
    values = []
    for attr in ("_vision_key", "_face_key"):
        values.append(getattr(client, attr, ""))
    values += list(getattr(client, "_headers", {}).values())
    creds = getattr(getattr(client, "client", None), "_request_signer", None)
    creds = getattr(creds, "_credentials", None)
    if creds is not None:
        values += [creds.access_key or "", creds.secret_key or "", creds.token or ""]
    return tuple(v for v in values if v and v != "dicore-placeholder")


def _record(client, calls: Sequence[tuple[str, Sequence[bytes]]], fail_fast: bool) -> tuple[str, list]:
    """Run `calls` through `client` under vcrpy; returns (cassette YAML text, outcomes).
    Nothing is written where the user asked: `_write_checked` does that after the scan."""
    outcomes: list[dict] = []
    tmp_dir = tempfile.mkdtemp(prefix="dicore-record-")
    tmp = Path(tmp_dir) / "cassette.yaml"
    try:
        with make_vcr("all").use_cassette(str(tmp)):
            for op, images in calls:
                fn = (lambda im=images: client.recognize(im[0])) if op == "recognize" else (
                    lambda im=images: client.similarity(im[0], im[1])
                )
                result = _outcome(fn)
                if fail_fast and result.get("error") == "UserError":
                    raise UserError(result["message"], hint="nothing was written")
                outcomes.append({"op": op, "images": [sha256(i) for i in images], "outcome": result})
        if not tmp.exists():
            first: dict = outcomes[0]["outcome"] if outcomes else {}
            why = f" (the first call failed: {first.get('error')} {first.get('code') or ''})".rstrip() \
                if first.get("error") else ""
            raise UserError(f"no HTTP interaction was recorded{why}".replace(" )", ")"),
                            hint="is the endpoint reachable (--endpoint URL, e.g. http://127.0.0.1:8767)?")
        return tmp.read_text(), outcomes
    finally:
        tmp.unlink(missing_ok=True)
        os.rmdir(tmp_dir)


def _write_checked(path: Path, text: str, provenance: dict, client) -> Path:
    """Scan everything about to be written (cassette, sidecar, inlined images) for every
    configured key and anything credential-shaped; write both files, or neither."""
    import json

    secrets = _client_secrets(client)
    leaks = find_secrets(text, secrets) + find_secrets_in_provenance(provenance, secrets)
    if leaks:
        raise UserError(
            f"refusing to write {path}: a secret would be written ({'; '.join(leaks)})",
            hint="a vendor answer that echoes a key, a key inside an image, or an unusual "
            "header; nothing was written",
        )
    from dicore.backends.cassettes import SOURCES

    if provenance.get("source") not in SOURCES:
        raise ValueError(f"provenance source must be one of {SOURCES}: {provenance.get('source')!r}")
    sidecar = provenance_path(path)
    tmp_cassette = path.with_name(path.name + ".tmp")
    tmp_sidecar = sidecar.with_name(sidecar.name + ".tmp")
    tmp_cassette.write_text(text)
    tmp_sidecar.write_text(json.dumps(provenance, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    os.replace(tmp_sidecar, sidecar)
    os.replace(tmp_cassette, path)
    return path


def _display_path(path: Path) -> str:
    """Relative to the working directory when inside it (repository paths replay anywhere)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path.name


def _source(vendor: str, endpoint: str | None, text: str) -> str:
    """simulator if any answer carried the simulator's header; live only for the vendor's own host."""
    import yaml

    for inter in (yaml.safe_load(text) or {}).get("interactions") or []:
        if header_value(inter["response"].get("headers"), SIMULATED_HEADER.lower()) is not None:
            return "simulator"
    host = urlsplit(endpoint).hostname if endpoint else None
    if host is None or host.endswith(VENDOR_HOSTS[vendor]) or host in VENDOR_HOSTS[vendor]:
        return "live"
    return "other"


def record_images(
    vendor: str,
    images_dir: Path,
    endpoint: str | None = None,
    out: str | None = None,
    similarity: bool = True,
    force: bool = False,
    command: str | None = None,
) -> Path:
    from dicore.backends import NamedImage, endpoint_override, live_client

    files = _image_files(images_dir)
    endpoint = endpoint_override(vendor, endpoint)
    path = _out_path(vendor, out, "recorded", force)
    client = live_client(vendor, endpoint=endpoint)
    imgs = [NamedImage(_read_image(p), p.name) for p in files]
    calls = [("recognize", [im]) for im in imgs]
    if similarity and client.supports_similarity:
        calls += [("similarity", [a, b]) for a, b in zip(imgs, imgs[1:], strict=False)]
    text, outcomes = _record(client, calls, fail_fast=True)
    source = _source(vendor, endpoint, text)
    prov = {
        "source": source,
        "vendor": vendor,
        "recorded_at": _now(),
        "dicore_version": dicore.__version__,
        # Never a key: no user-info, no credential query parameters.
        "endpoint": sanitize_url(endpoint) if endpoint else "vendor default",
        "images": {sha256(im): _display_path(p) for im, p in zip(imgs, files, strict=True)},
        # Tiny inputs (broken files, test patterns) are kept so the cassette can be replayed
        # anywhere; photos are not, they stay out of the repository.
        "inline_images": {
            sha256(im): base64.b64encode(im).decode() for im in imgs if len(im) <= INLINE_MAX_BYTES
        },
        "calls": outcomes,
        "command": sanitize_text(command) if command else command,
    }
    if source == "simulator":
        prov["notes"] = f"{SIMULATED_LABEL}; recorded from dicore serve {vendor}."
    if source == "live":
        prov["region"] = getattr(client, "region", None) or urlsplit(
            getattr(client, "vision_endpoint", None) or getattr(client, "endpoint", "") or ""
        ).hostname
    if source == "other":
        prov["notes"] = "neither the vendor's own host nor a dicore simulator: not a live recording."
    return _write_checked(path, text, prov, client)


def _image_files(images_dir: Path) -> list[Path]:
    """The .jpg/.jpeg/.png files of --images DIR; a folder or a dangling link with such a
    name is an error naming it (it is not an image to send)."""
    if not images_dir.is_dir():
        raise UserError(f"--images {images_dir} is not a folder")
    try:
        named = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    except OSError as exc:
        raise UserError(f"--images {images_dir}: cannot list it ({exc.strerror or exc})") from exc
    for p in named:
        if p.is_symlink() and not p.exists():
            raise UserError(f"--images: {p} is a symbolic link to nothing ({os.readlink(p)})",
                            hint="remove the link or point it at the image")
        if not p.is_file():
            raise UserError(f"--images: {p} is not a file (a folder named like an image?)",
                            hint="rename or move it out of the images folder")
    if not named:
        raise UserError(f"no .jpg/.jpeg/.png images in {images_dir}")
    return named


def _read_image(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"--images: cannot read {path} ({exc.strerror or exc})",
                        hint="check the file's permissions") from exc


# --- the vendors' documented examples ---------------------------------------------------

AWS_JSON = "application/x-amz-json-1.1"
JSON = "application/json; charset=utf-8"
_AWS_REK_DOC = "awsdocs/amazon-rekognition-developer-guide doc_source/API_RecognizeCelebrities.md (Sample Response)"
# (op, stand-in photos, [(status, content type, body) per HTTP request], where the body is documented)
DOC_EXAMPLES: dict[str, list[tuple[str, list[str], list[tuple[int, str, object]], str]]] = {
    "aws": [
        ("recognize", ["obama.jpg"], [(200, AWS_JSON, {
            "CelebrityFaces": [{
                "Face": {
                    "BoundingBox": {"Height": 0.617123007774353, "Left": 0.15641026198863983, "Top": 0.10864841192960739, "Width": 0.3641025722026825},
                    "Confidence": 99.99589538574219,
                    "Landmarks": [{"Type": "eyeLeft", "X": 0.2837241291999817, "Y": 0.3637104034423828},
                                  {"Type": "eyeRight", "X": 0.4091649055480957, "Y": 0.37378931045532227}],
                    "Pose": {"Pitch": -7.749263763427734, "Roll": 2.004552125930786, "Yaw": 9.012002944946289},
                    "Quality": {"Brightness": 32.69192123413086, "Sharpness": 99.9305191040039}},
                "Id": "3Ir0du6", "MatchConfidence": 98.0, "Name": "Jeff Bezos",
                "Urls": ["www.imdb.com/name/nm1757263"]}],
            "OrientationCorrection": "ROTATE_0",
            "UnrecognizedFaces": [{
                "BoundingBox": {"Height": 0.5345501899719238, "Left": 0.48461538553237915, "Top": 0.16949152946472168, "Width": 0.3153846263885498},
                "Confidence": 99.92860412597656,
                "Landmarks": [{"Type": "eyeLeft", "X": 0.5863404870033264, "Y": 0.36940744519233704}],
                "Pose": {"Pitch": -7.386096477508545, "Roll": 2.304218292236328, "Yaw": -6.175624370574951},
                "Quality": {"Brightness": 37.16635513305664, "Sharpness": 99.884521484375}}]})],
         _AWS_REK_DOC + "; landmarks trimmed as quoted in VENDOR_APIS.md 1.2"),
        ("similarity", ["macron_2014.jpg", "macron_2025.jpg"], [(200, AWS_JSON, {
            "FaceMatches": [{"Face": {"BoundingBox": {"Height": 0.33481481671333313, "Left": 0.31888890266418457, "Top": 0.4933333396911621, "Width": 0.25},
                                      "Confidence": 99.9991226196289},
                             "Similarity": 100}],
            "SourceImageFace": {"BoundingBox": {"Height": 0.33481481671333313, "Left": 0.31888890266418457, "Top": 0.4933333396911621, "Width": 0.25},
                                "Confidence": 99.9991226196289}})],
         "botocore data/rekognition/2016-06-27/examples-1.json (CompareFaces)"),
        ("recognize", ["ardern_2018.jpg"], [(400, AWS_JSON, {
            "__type": "InvalidParameterException", "Message": "Request has invalid parameters"})],
         "error body per VENDOR_APIS.md 1.1; message text from boto/botocore#1203"),
        ("recognize", ["sunak.jpg"], [(500, AWS_JSON, {
            "__type": "ThrottlingException", "Message": "Rate exceeded"})],
         "status 500 per the API reference error table; the message text is illustrative [I]"),
    ],
    "azure": [
        ("recognize", ["obama.jpg"], [(200, JSON, {
            "requestId": "f0027b4b-dc0d-4082-9228-1545ed246b03",
            "metadata": {"width": 1500, "height": 1000, "format": "Jpeg"},
            "modelVersion": "2021-04-01",
            "result": {"celebrities": [{"name": "Satya Nadella",
                                        "faceRectangle": {"left": 597, "top": 162, "width": 248, "height": 248},
                                        "confidence": 0.999028444}]}})],
         "Azure/azure-rest-api-specs ComputerVision stable/v3.2 examples/SuccessfulAnalyzeImageByDomainWithStream.json"),
        ("similarity", ["macron_2014.jpg", "macron_2025.jpg"], [
            (200, JSON, [{"faceId": "c5c24a82-6845-4031-9d5d-978df9175426",
                          "faceRectangle": {"width": 78, "height": 78, "left": 394, "top": 54}}]),
            (200, JSON, [{"faceId": "815df99c-598f-4926-930a-a734b3fd651c",
                          "faceRectangle": {"width": 78, "height": 78, "left": 394, "top": 54}}]),
            (200, JSON, {"isIdentical": True, "confidence": 0.9})],
         "Face v1.0 examples DetectWithStream.json (second detect reuses its rectangle with the "
         "second faceId of VerifyFaceToFace.json) and VerifyFaceToFace.json"),
        ("recognize", ["ardern_2018.jpg"], [(400, JSON, {"error": {
            "code": "InvalidRequest", "message": "Input image is too large.",
            "innererror": {"code": "InvalidImageSize", "message": "Input image is too large."}}})],
         "Computer Vision error wire format, VENDOR_APIS.md 2.3 (SDK model ComputerVisionErrorResponse)"),
        ("similarity", ["sunak.jpg", "obama.jpg"], [(429, JSON, {"error": {
            "code": "RateLimitExceeded", "message": "Rate limit is exceeded. Try again later."}})],
         "Face error table (RateLimitExceeded; microsoft/Cognitive-Face-Windows#29)"),
    ],
    "naver": [
        ("recognize", ["obama.jpg"], [(200, JSON, {
            "info": {"size": {"width": 325, "height": 153}, "faceCount": 2},
            "faces": [{"celebrity": {"value": "주원", "confidence": 1.0}},
                      {"celebrity": {"value": "강동원", "confidence": 0.856215}}]})],
         "apidocs.ncloud.com clova_face_recognition/celebrity field table; values from public GitHub samples"),
        ("recognize", ["ardern_2018.jpg"], [(401, JSON, {"error": {
            "errorCode": "200", "message": "Authentication Failed",
            "details": "Invalid authentication information."}})],
         "NCP API Gateway error table (401/200 Authentication Failed)"),
    ],
}


class _ScriptedServer(ThreadingHTTPServer):
    """The server of `scripted_server`: the attributes it sets, for the handler."""

    script: list[tuple]
    requests: list[str]
    times: list[float]  # time.monotonic() of each request, as it arrived
    url: str


class _ScriptedHandler(BaseHTTPRequestHandler):
    """Answers each request with the next scripted response, whatever it asks."""

    protocol_version = "HTTP/1.1"
    server: _ScriptedServer

    def do_POST(self) -> None:  # noqa: N802 (stdlib name)
        length = self.headers.get("Content-Length")
        if length is not None:
            self.rfile.read(int(length))
        elif self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                self.rfile.read(size + 2)
            self.rfile.readline()
        self.server.times.append(time.monotonic())
        self.server.requests.append(self.path)
        status, ctype, body, *extra = self.server.script.pop(0) if self.server.script else (500, JSON, {})
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for name, value in (extra[0] if extra else {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def scripted_server(script: list[tuple]):
    """A loopback HTTP server on port 0 answering `script` in order (docs stubs and tests):
    items are (status, content type, JSON-able or bytes body[, extra headers])."""
    server = _ScriptedServer(("127.0.0.1", 0), _ScriptedHandler)
    server.daemon_threads = True
    server.script = list(script)
    server.requests = []
    server.times = []
    server.url = "http://{}:{}".format(*server.server_address[:2])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def photos_dir() -> Path:
    import simulators

    return Path(simulators.__file__).parent / "photos"


def record_docs(vendor: str, out: str | None = None, force: bool = False) -> Path:
    """The vendor's documented example responses, served by a stub and recorded through the client."""
    from dicore.backends import NamedImage, live_client

    path = _out_path(vendor, out, "docs_examples", force)
    examples = DOC_EXAMPLES[vendor]
    script = [resp for *_, responses, _doc in examples for resp in responses]
    photos = photos_dir()
    calls = [
        ("recognize" if op == "recognize" else "similarity",
         [NamedImage((photos / n).read_bytes(), n) for n in names])
        for op, names, _, _ in examples
    ]
    with scripted_server(script) as server:
        client = live_client(vendor, endpoint=server.url, placeholder_credentials=True)
        text, outcomes = _record(client, calls, fail_fast=False)
    for outcome, (_, names, _, doc) in zip(outcomes, examples, strict=True):
        outcome["documented_in"] = doc
        outcome["stand_in_images"] = names
    return _write_checked(path, text, {
        "source": "documentation",
        "vendor": vendor,
        "recorded_at": _now(),
        "dicore_version": dicore.__version__,
        "endpoint": "local stub replaying documented responses",
        "images": {sha256((photos / n).read_bytes()): f"simulators/photos/{n}"
                   for _, names, _, _ in examples for n in names},
        "calls": outcomes,
        "notes": "Response bodies are the vendor's documented examples (sources per call), served by "
                 "a local stub and recorded through dicore's live client. The request images are "
                 "repository photos used as stand-ins: the names in the responses are not "
                 "those of the people in the photos. Not a live recording.",
    }, client)
