"""vcrpy cassettes of vendor calls: scrubbing, digests, matching, provenance, secret scan.

Recipe (VENDOR_APIS.md section 4, tested on vcrpy 7 and 9):
- every secret request header is dropped before anything is stored;
- image bodies are replaced by `vcr-digest:` + the sha256 of the raw image bytes (AWS
  base64 blobs are decoded first; Naver multipart parts are hashed per field, so the
  random boundary does not matter); faces never enter the repository;
- requests match on method, path, X-Amz-Target and that digest (not host/port, so a
  cassette recorded against one endpoint replays for any).

vcrpy's YAML has no metadata slot, so provenance lives in a sidecar next to the
cassette: `NAME.yaml` -> `NAME.provenance.json` with `source` one of
`simulator` | `documentation` | `live` (live also has date and region) | `other`
(an endpoint that is neither the vendor's host nor a dicore simulator).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import cast

import vcr
import yaml
from vcr.request import Request

# Dropped from every stored request (VENDOR_APIS.md 4.3), plus Naver's legacy gateway headers.
SCRUB_HEADERS = frozenset(
    {
        "authorization",
        "x-amz-date",
        "x-amz-security-token",
        "x-amz-content-sha256",
        "amz-sdk-invocation-id",
        "amz-sdk-request",
        "user-agent",
        "ocp-apim-subscription-key",
        "x-ms-client-request-id",
        "x-ncp-apigw-api-key-id",
        "x-ncp-apigw-api-key",
        "x-naver-client-id",
        "x-naver-client-secret",
        "cookie",
    }
)
# Headers whose mere presence in a cassette is a leak.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "x-amz-security-token",
        "ocp-apim-subscription-key",
        "x-ncp-apigw-api-key-id",
        "x-ncp-apigw-api-key",
        "x-naver-client-id",
        "x-naver-client-secret",
        "cookie",
        "set-cookie",
    }
)
SECRET_ENV_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_VISION_KEY",
    "AZURE_FACE_KEY",
    "NAVER_CLIENT_ID",
    "NAVER_CLIENT_SECRET",
)
SECRET_PATTERNS = {
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "SigV4 authorization": re.compile(r"AWS4-HMAC-SHA256"),
    "request signature": re.compile(r"Signature=[0-9a-fA-F]{16,}"),
    "key in query string": re.compile(r"subscription-key=", re.I),
}
DIGEST_PREFIX = b"vcr-digest:"
MATCH_ON = ("method", "path", "aws_target", "raw_body")
SOURCES = ("simulator", "documentation", "live", "other")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _header(request: Request, name: str) -> str:
    for k, v in request.headers.items():
        if k.lower() == name:
            return v.decode() if isinstance(v, bytes) else v
    return ""


def _digest_blobs(obj):
    """Replace AWS `Bytes` blobs (base64) by the sha256 of the decoded image."""
    if isinstance(obj, dict):
        out = {}
        for k, v in sorted(obj.items()):
            if k == "Bytes" and isinstance(v, str):
                try:
                    out[k] = "sha256:" + sha256(base64.b64decode(v, validate=True))
                except (binascii.Error, ValueError):
                    out[k] = "sha256-of-text:" + sha256(v.encode())
            else:
                out[k] = _digest_blobs(v)
        return out
    if isinstance(obj, list):
        return [_digest_blobs(x) for x in obj]
    return obj


def canonical_body(request: Request) -> bytes:
    """The stored and matched form of a request body (idempotent)."""
    from vcr.util import read_body  # materialises file/iterator bodies

    body = read_body(request) or b""
    body = body.encode() if isinstance(body, str) else body
    if body.startswith(DIGEST_PREFIX) or not body:
        return body
    ctype = _header(request, "content-type")
    if "multipart/form-data" in ctype:
        msg = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body
        )
        parts = sorted(
            (
                p.get_param("name", header="content-disposition"),
                "sha256:" + sha256(cast(bytes, p.get_payload(decode=True))),  # a form field: bytes
            )
            for p in msg.iter_parts()
        )
        canon = json.dumps(parts)
    else:
        try:
            canon = json.dumps(_digest_blobs(json.loads(body)), sort_keys=True)
        except (ValueError, UnicodeDecodeError):  # octet-stream image (Azure)
            canon = "sha256:" + sha256(body)
    return DIGEST_PREFIX + canon.encode()


def before_record_request(request: Request) -> Request:
    headers = {
        k: (v.decode() if isinstance(v, bytes) else v)  # botocore bytes would be stored as !!binary
        for k, v in request.headers.items()
        if k.lower() not in SCRUB_HEADERS and k.lower() not in ("transfer-encoding", "content-length")
    }
    # A fresh Request: an iterator body left on the original would be pickled into the YAML.
    return Request(request.method, request.uri, canonical_body(request), headers)


def before_record_response(response: dict) -> dict:
    response["headers"] = {
        k: v for k, v in response["headers"].items() if k.lower() not in SECRET_HEADERS
    }
    return response


def aws_target(r1: Request, r2: Request) -> None:
    assert _header(r1, "x-amz-target") == _header(r2, "x-amz-target")


def make_vcr(record_mode: str = "none") -> vcr.VCR:
    my_vcr = vcr.VCR(
        record_mode=record_mode,
        before_record_request=before_record_request,
        before_record_response=before_record_response,
        match_on=MATCH_ON,
        decode_compressed_response=True,
    )
    my_vcr.register_matcher("aws_target", aws_target)
    return my_vcr


# --- provenance sidecar -----------------------------------------------------------------


def provenance_path(cassette: str | Path) -> Path:
    p = Path(cassette)
    return p.with_name(p.name.removesuffix(".yaml").removesuffix(".yml") + ".provenance.json")


def write_provenance(cassette: str | Path, provenance: dict) -> Path:
    if provenance.get("source") not in SOURCES:
        raise ValueError(f"provenance source must be one of {SOURCES}: {provenance.get('source')!r}")
    path = provenance_path(cassette)
    path.write_text(json.dumps(provenance, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    return path


def read_provenance(cassette: str | Path) -> dict:
    path = provenance_path(cassette)
    if not path.exists():
        raise FileNotFoundError(f"cassette {cassette} has no provenance sidecar {path.name}")
    return json.loads(path.read_text())


def load_interactions(cassette: str | Path) -> list[dict]:
    """The cassette's interactions as stored: [{'request': {...}, 'response': {...}}, ...]."""
    data = yaml.safe_load(Path(cassette).read_text()) or {}
    return data.get("interactions") or []


def response_json(response: dict):
    body = (response.get("body") or {}).get("string", b"")
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return json.loads(body) if body.strip() else None


def header_value(headers: dict, name: str) -> str | None:
    for k, v in (headers or {}).items():
        if k.lower() == name:
            v = v[0] if isinstance(v, list) and v else v
            return v.decode() if isinstance(v, bytes) else v
    return None


# --- secret scanner ---------------------------------------------------------------------


def known_secret_values(extra: tuple[str, ...] = ()) -> list[str]:
    """Key values from the environment (and any passed in) worth searching for verbatim."""
    values = [os.environ.get(v, "") for v in SECRET_ENV_VARS] + list(extra)
    return [v for v in values if v and len(v) >= 8 and v != "dicore-placeholder"]


def _strings(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(obj, list):
        for x in obj:
            yield from _strings(x)
    elif isinstance(obj, bytes):  # !!binary scalars: scan what they decode to
        yield obj.decode("utf-8", "replace")
    elif isinstance(obj, str):
        yield obj


def find_secrets(yaml_text: str, extra_values: tuple[str, ...] = ()) -> list[str]:
    """What in a serialized cassette looks like a credential; [] when clean."""
    found: list[str] = []
    try:
        data = yaml.safe_load(yaml_text) or {}
    except yaml.YAMLError as exc:
        return [f"cassette is not valid YAML ({exc}); refusing to trust it"]
    for i, inter in enumerate(data.get("interactions") or []):
        for side in ("request", "response"):
            for name in (inter.get(side) or {}).get("headers") or {}:
                if str(name).lower() in SECRET_HEADERS:
                    found.append(f"interaction {i}: {side} header {name}")
    texts = [yaml_text, *_strings(data)]
    for label, pattern in SECRET_PATTERNS.items():
        if any(pattern.search(t) for t in texts):
            found.append(label)
    for value in known_secret_values(extra_values):
        if any(value in t for t in texts):
            found.append(f"a key value from the environment ({value[:3]}...)")
    return found
