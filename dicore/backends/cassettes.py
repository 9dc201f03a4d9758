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

from dicore.errors import UserError

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
# Query parameters that carry credentials (presigned URLs, API keys, OAuth): dropped from
# every recorded URL, and their presence anywhere in what is written is a leak.
SECRET_QUERY_PARAMS = frozenset({
    "subscription-key", "key", "api_key", "apikey", "api-key", "token", "access_token",
    "id_token", "refresh_token", "auth", "password", "passwd", "secret", "client_secret",
    "sig", "signature", "code", "x-amz-signature", "x-amz-credential",
    "x-amz-security-token",
})
_SECRET_QUERY = "|".join(re.escape(q) for q in sorted(SECRET_QUERY_PARAMS, key=len, reverse=True))
SECRET_PATTERNS = {
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "SigV4 authorization": re.compile(r"AWS4-HMAC-SHA256"),
    "request signature": re.compile(r"Signature=[0-9a-fA-F]{16,}"),
    "credential in a query string": re.compile(rf"[?&](?:{_SECRET_QUERY})=[^&\s\"']", re.I),
    "user name and password in a URL": re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@\"']+:[^/\s@\"']*@", re.I),
    "bearer token": re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{8,}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
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


def sanitize_url(url: str) -> str:
    """A URL without user-info (`http://u:SECRET@host`) and without credential query
    parameters (`?token=...`, `subscription-key=...`), for anything dicore writes down."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if k.lower() not in SECRET_QUERY_PARAMS])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s\"']+", re.I)


def sanitize_text(text: str) -> str:
    """`sanitize_url` applied to every URL in a text (a command line, a note)."""
    return _URL.sub(lambda m: sanitize_url(m.group(0)), text)


def before_record_request(request: Request) -> Request:
    headers = {
        k: (v.decode() if isinstance(v, bytes) else v)  # botocore bytes would be stored as !!binary
        for k, v in request.headers.items()
        if k.lower() not in SCRUB_HEADERS and k.lower() not in ("transfer-encoding", "content-length")
    }
    # A fresh Request: an iterator body left on the original would be pickled into the YAML.
    return Request(request.method, sanitize_url(request.uri), canonical_body(request), headers)


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


class CassetteError(UserError):
    """A cassette file that is not a vcrpy cassette; the message names the file."""


def load_interactions(cassette: str | Path) -> list[dict]:
    """The cassette's interactions as stored: [{'request': {...}, 'response': {...}}, ...].

    Raises CassetteError (one line naming the file) for a file that is not YAML, not a
    mapping with an `interactions` list, or whose interactions lack a request/response."""
    path = Path(cassette)
    hint = ("a cassette is the YAML file `dicore record` writes (see docs/backends_cassettes.md); "
            "record one with `dicore record --vendor V --images DIR --out FILE`")
    try:
        text = path.read_bytes().decode("utf-8")
        data = yaml.safe_load(text)
    except OSError as exc:
        raise CassetteError(f"cassette {path}: cannot read it ({exc.strerror or exc})", hint) from exc
    except UnicodeDecodeError as exc:
        raise CassetteError(f"cassette {path} is not a text (YAML) file", hint) from exc
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise CassetteError(f"cassette {path} is not valid YAML{at}", hint) from exc
    if data is None:
        return []
    if not isinstance(data, dict):
        raise CassetteError(
            f"cassette {path}: the YAML is a {type(data).__name__}, not a vcrpy cassette "
            "(a mapping with 'interactions')", hint)
    interactions = data.get("interactions") or []
    if not isinstance(interactions, list):
        raise CassetteError(f"cassette {path}: 'interactions' is not a list", hint)
    for i, inter in enumerate(interactions):
        if not (isinstance(inter, dict) and isinstance(inter.get("request"), dict)
                and isinstance(inter.get("response"), dict)):
            raise CassetteError(
                f"cassette {path}: interaction {i} has no request/response mapping", hint)
    return interactions


_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")


def answered_digests(cassette: str | Path) -> set[str]:
    """sha256 of every image some request of the cassette carries (its stored digests)."""
    out: set[str] = set()
    for inter in load_interactions(cassette):
        body = inter["request"].get("body")
        text = body.get("string", "") if isinstance(body, dict) else body
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        out.update(_DIGEST.findall(str(text or "")))
    return out


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
    """Key values from the environment (and any passed in) worth searching for verbatim:
    every one, whatever its length (a short key echoed back is still a key)."""
    values = [os.environ.get(v, "") for v in SECRET_ENV_VARS] + list(extra)
    return list(dict.fromkeys(v for v in values if v and v.strip() and v != "dicore-placeholder"))


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


_HEX = re.compile(r"[0-9a-fA-F]+")


def _decoded_variants(text: str):
    """The text, plus what base64 strings in it decode to (inlined bodies), so a key
    inside an inlined image or a !!binary body is found too."""
    yield text
    for m in re.finditer(r"[A-Za-z0-9+/]{16,}={0,2}", text):
        if _HEX.fullmatch(m.group(0)):
            continue  # a digest, not base64
        try:
            yield base64.b64decode(m.group(0) + "=" * (-len(m.group(0)) % 4)).decode("latin-1")
        except (binascii.Error, ValueError):
            continue


def scan_texts(texts, extra_values: tuple[str, ...] = ()) -> list[str]:
    """What in these texts looks like a credential, or is a configured key; [] when clean."""
    found: list[str] = []
    pool = [v for t in texts for v in _decoded_variants(t)]
    for label, pattern in SECRET_PATTERNS.items():
        if any(pattern.search(t) for t in pool):
            found.append(label)
    for value in known_secret_values(extra_values):
        if any(value in t for t in pool):
            shown = value[:3] + "..." if len(value) >= 8 else f"{len(value)} characters"
            found.append(f"a key value from the environment ({shown})")
    return found


def find_secrets(yaml_text: str, extra_values: tuple[str, ...] = ()) -> list[str]:
    """What in a serialized cassette looks like a credential; [] when clean."""
    found: list[str] = []
    try:
        data = yaml.safe_load(yaml_text) or {}
    except yaml.YAMLError as exc:
        return [f"cassette is not valid YAML ({exc}); refusing to trust it"]
    if not isinstance(data, dict):
        return ["cassette is not a vcrpy cassette (no mapping); refusing to trust it"]
    for i, inter in enumerate(data.get("interactions") or []):
        for side in ("request", "response"):
            for name in (inter.get(side) or {}).get("headers") or {}:
                if str(name).lower() in SECRET_HEADERS:
                    found.append(f"interaction {i}: {side} header {name}")
    return found + scan_texts([yaml_text, *_strings(data)], extra_values)


def find_secrets_in_provenance(provenance: dict, extra_values: tuple[str, ...] = ()) -> list[str]:
    """The same scan over a provenance sidecar: its text and its inlined images' bytes."""
    texts = [json.dumps(provenance, ensure_ascii=False), *_strings(provenance)]
    for b64 in (provenance.get("inline_images") or {}).values():
        try:
            texts.append(base64.b64decode(b64).decode("latin-1"))
        except (binascii.Error, ValueError):
            texts.append(str(b64))
    return [f"provenance: {f}" for f in scan_texts(texts, extra_values)]
