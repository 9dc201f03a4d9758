"""Contract tests: every cassette under cassettes/ (found by glob, so a new one is covered
without a new test) is checked against the vendor's schema and reporting policy, scanned for
secrets, and replayed through dicore's clients to reproduce what was recorded.

Schemas: AWS responses are walked against botocore's own service model; Azure and Naver
against the JSON schemas below, written from VENDOR_APIS.md (sections 2 and 3). The
simulators add a `simulated: true` field, allowed explicitly and nowhere else.
"""

from __future__ import annotations

import base64
import math
import warnings
from pathlib import Path

import botocore.session
import pytest

from dicore.backends import NamedImage, make_backend
from dicore.backends.base import BackendError
from dicore.backends.cassettes import (
    SCRUB_HEADERS,
    SOURCES,
    find_secrets,
    header_value,
    load_interactions,
    provenance_path,
    read_provenance,
    response_json,
)
from dicore.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = sorted((ROOT / "cassettes").glob("*/*.yaml"))
IDS = [str(p.relative_to(ROOT / "cassettes")) for p in CASSETTES]
POLICY = {"aws": 55.0, "azure": 0.70}  # the lowest confidence at which each vendor names anyone

# --- minimal JSON schema (type, properties, required, additionalProperties, items, min/max, enum)


def validate(value, schema: dict, where: str = "$") -> list[str]:
    errors: list[str] = []
    types = schema.get("type")
    if types:
        types = [types] if isinstance(types, str) else types
        checks = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "boolean": lambda v: isinstance(v, bool),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
            "null": lambda v: v is None,
        }
        if not any(checks[t](value) for t in types):
            return [f"{where}: {value!r} is not {types}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        errors += [f"{where}: missing {k}" for k in schema.get("required", []) if k not in value]
        for k, v in value.items():
            if k in props:
                errors += validate(v, props[k], f"{where}.{k}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: unexpected field {k}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            errors += validate(v, schema["items"], f"{where}[{i}]")
    return errors


def obj(required=(), **props) -> dict:
    return {"type": "object", "properties": props, "required": list(required), "additionalProperties": False}


INT, NUM, STR, BOOL = {"type": "integer"}, {"type": "number"}, {"type": "string"}, {"type": "boolean"}
UNIT = {"type": "number", "minimum": 0, "maximum": 1}
SIM_FLAG = {"simulated": BOOL}
RECT = obj(["left", "top", "width", "height"], left=INT, top=INT, width=INT, height=INT)
AZURE_SCHEMAS = {
    "analyze": obj(
        ["requestId", "metadata", "modelVersion", "result"],
        requestId=STR,
        metadata=obj(["width", "height", "format"], width=INT, height=INT, format=STR),
        modelVersion=STR,
        result={
            "type": "object",  # untyped in the swagger; the celebrities model fills this
            "required": ["celebrities"],
            "properties": {
                "celebrities": {
                    "type": "array",
                    "items": obj(["name", "faceRectangle", "confidence"], name=STR, faceRectangle=RECT, confidence=UNIT),
                },
                **SIM_FLAG,
            },
        },
    ),
    "detect": {
        "type": "array",
        "items": obj(["faceId", "faceRectangle"], faceId=STR, faceRectangle=RECT, recognitionModel=STR),
    },
    "verify": obj(["isIdentical", "confidence"], isIdentical=BOOL, confidence=UNIT, **SIM_FLAG),
    "error": obj(
        ["error"],
        error=obj(["code", "message"], code=STR, message=STR, innererror=obj(["code", "message"], code=STR, message=STR)),
    ),
}
NAVER_SCHEMAS = {
    "celebrity": obj(
        ["info", "faces"],
        info=obj(["size", "faceCount"], size=obj(["width", "height"], width=INT, height=INT), faceCount=INT),
        faces={"type": "array", "items": obj(["celebrity"], celebrity=obj(["value", "confidence"], value=STR, confidence=UNIT))},
        **SIM_FLAG,
    ),
    # API gateway errors; errorCode is a string, or the number 401 (VENDOR_APIS.md 3)
    "gateway_error": obj(
        ["error"],
        error=obj(["errorCode", "message"], errorCode={"type": ["string", "integer"]}, message=STR, details=STR),
    ),
    "service_error": obj(["errorCode", "errorMessage"], errorCode=STR, errorMessage=STR),
}

# --- AWS: botocore's service model ------------------------------------------------------

_REK = botocore.session.get_session().get_service_model("rekognition")


def validate_shape(value, shape, where: str = "$") -> list[str]:
    """Walk a response against a botocore shape: members, required, types, enums, ranges."""
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            return [f"{where}: expected object for {shape.name}"]
        errors = [f"{where}: missing {k}" for k in shape.required_members if k not in value]
        for k, v in value.items():
            if k not in shape.members:
                errors.append(f"{where}: {k} is not a member of {shape.name}")
            elif v is not None:
                errors += validate_shape(v, shape.members[k], f"{where}.{k}")
        return errors
    if t == "list":
        if not isinstance(value, list):
            return [f"{where}: expected list"]
        errors = []
        for i, v in enumerate(value):
            errors += validate_shape(v, shape.member, f"{where}[{i}]")
        return errors
    if t == "string":
        if not isinstance(value, str):
            return [f"{where}: expected string"]
        return [f"{where}: {value!r} not in enum"] if shape.enum and value not in shape.enum else []
    if t in ("float", "double", "integer", "long"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if t in ("integer", "long"):
            ok = ok and float(value).is_integer()
        if not ok:
            return [f"{where}: {value!r} is not {t}"]
        lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            return [f"{where}: {value} outside [{lo}, {hi}]"]
        return []
    if t == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected boolean"]
    return []


def aws_operation(request: dict) -> str:
    target = header_value(request.get("headers"), "x-amz-target") or ""
    return target.removeprefix("RekognitionService.")


def aws_error_code(body: dict) -> str:
    return body["__type"].split(":")[0].rsplit("#", 1)[-1]


def azure_kind(uri: str) -> str:
    path = uri.split("?")[0]
    for kind in ("analyze", "detect", "verify"):
        if path.endswith(kind):
            return kind
    raise AssertionError(f"unknown Azure path {path}")


# --- the tests --------------------------------------------------------------------------


def test_cassettes_are_found():
    vendors = {p.parent.name for p in CASSETTES}
    assert vendors == {"aws", "azure", "naver"}, "every vendor has cassettes"
    for vendor in vendors:
        sources = {read_provenance(p)["source"] for p in CASSETTES if p.parent.name == vendor}
        assert {"documentation", "simulator"} <= sources, vendor


@pytest.mark.parametrize("cassette", CASSETTES, ids=IDS)
def test_provenance(cassette: Path):
    assert provenance_path(cassette).exists(), f"{cassette.name} needs a provenance sidecar"
    prov = read_provenance(cassette)
    assert prov["source"] in SOURCES
    assert prov["vendor"] == cassette.parent.name
    assert prov["recorded_at"] and prov["dicore_version"]
    marked = [
        header_value(i["response"].get("headers"), "x-dicore-simulated") is not None
        for i in load_interactions(cassette)
    ]
    if prov["source"] == "simulator":
        assert all(marked), "a simulator cassette: every answer carries the simulator's header"
    if any(marked):
        assert prov["source"] == "simulator", "answers from a simulator are never called live"
    if prov["source"] == "live":
        assert prov.get("region"), "a live cassette records its region"
    assert prov["calls"], "provenance lists the calls to replay"


def warn_if_stale(cassette: Path, now=None) -> None:
    """A UserWarning (not a failure: an old recording still replays) when the cassette is
    older than its limit (`dicore.backends.freshness`; `dicore cassettes check` fails then)."""
    from dicore.backends.freshness import freshness

    f = freshness(cassette, now=now)
    if f.stale:
        age = "unknown" if f.age is None else f"{f.age.days} days"
        warnings.warn(f"cassette {cassette} is older than its limit ({age} > "
                      f"{f.limit.days} days): re-record it (docs/backends_cassettes.md)",
                      UserWarning, stacklevel=2)


@pytest.mark.parametrize("cassette", CASSETTES, ids=IDS)
def test_cassette_freshness(cassette: Path):
    warn_if_stale(cassette)


@pytest.mark.parametrize("cassette", CASSETTES, ids=IDS)
def test_no_secret_and_no_image(cassette: Path):
    text = cassette.read_text()
    assert find_secrets(text) == []
    for inter in load_interactions(cassette):
        req = inter["request"]
        assert not {k.lower() for k in req["headers"]} & SCRUB_HEADERS
        body = req["body"] if isinstance(req["body"], str | bytes) else (req["body"] or {}).get("string", "")
        body = body.decode() if isinstance(body, bytes) else (body or "")
        assert body == "" or body.startswith("vcr-digest:"), "request bodies are digests"
        assert len(body) < 1000, "no image bytes in a cassette"


@pytest.mark.parametrize("cassette", CASSETTES, ids=IDS)
def test_response_shapes_and_policy(cassette: Path):
    vendor = cassette.parent.name
    interactions = load_interactions(cassette)
    assert interactions
    for n, inter in enumerate(interactions):
        status = inter["response"]["status"]["code"]
        body = response_json(inter["response"])
        where = f"{cassette.name} interaction {n}"
        if vendor == "aws":
            op = _REK.operation_model(aws_operation(inter["request"]))
            if status < 300:
                assert validate_shape(body, op.output_shape) == [], where
                for celeb in body.get("CelebrityFaces") or []:
                    assert celeb["MatchConfidence"] >= POLICY["aws"], where
                    assert celeb["Name"], where
            else:
                assert status >= 400 and isinstance(body.get("Message"), str), where
                code = aws_error_code(body)
                assert code in {e.name for e in op.error_shapes}, f"{where}: {code}"
                assert (status >= 500) == (code in ("InternalServerError", "ThrottlingException")), where
        elif vendor == "azure":
            kind = "error" if status >= 300 else azure_kind(inter["request"]["uri"])
            assert validate(body, AZURE_SCHEMAS[kind]) == [], where
            if kind == "analyze":
                for celeb in body["result"]["celebrities"]:
                    assert celeb["confidence"] >= POLICY["azure"], where
        else:
            if status < 300:
                assert validate(body, NAVER_SCHEMAS["celebrity"]) == [], where
                assert body["info"]["faceCount"] >= len(body["faces"]) or body["faces"] == [], where
                for face in body["faces"]:
                    assert face["celebrity"]["value"].strip(), f"{where}: Naver always names someone"
            else:
                ok = [validate(body, NAVER_SCHEMAS[k]) == [] for k in ("gateway_error", "service_error")]
                assert any(ok), where


def _images(prov: dict) -> dict[str, bytes]:
    out = {h: base64.b64decode(b) for h, b in (prov.get("inline_images") or {}).items()}
    for digest, rel in prov["images"].items():
        if digest not in out and (ROOT / rel).is_file():
            out[digest] = (ROOT / rel).read_bytes()
    return out


@pytest.mark.parametrize("cassette", CASSETTES, ids=IDS)
def test_replay_through_clients(cassette: Path):
    """Each recorded call, replayed through the live client code, gives what was recorded,
    and together the calls use every interaction of the cassette."""
    vendor = cassette.parent.name
    prov = read_provenance(cassette)
    images = _images(prov)
    backend = make_backend(vendor, "replay", cassette=cassette)
    for call in prov["calls"]:
        missing = [h for h in call["images"] if h not in images]
        if missing:
            pytest.skip(f"images {missing} of {cassette.name} are not in this repository")
        args = [NamedImage(images[h], prov["images"].get(h, h)) for h in call["images"]]
        expected = call["outcome"]
        if "error" in expected:
            exc_type = UserError if expected["error"] == "UserError" else BackendError
            with pytest.raises(exc_type) as info:
                backend.recognize(*args) if call["op"] == "recognize" else backend.similarity(*args)
            assert type(info.value).__name__ == expected["error"]
            if exc_type is BackendError:
                assert info.value.code == expected["code"] and info.value.status == expected["status"]
                assert prov["images"][call["images"][0]] in str(info.value), "the error names the image"
        elif call["op"] == "recognize":
            rec = backend.recognize(*args)
            assert rec.predicted == expected["predicted"]
            assert rec.face_count == expected["face_count"]
            assert rec.confidence == pytest.approx(expected["confidence"])
            assert rec.simulated == (prov["source"] == "simulator")
            if rec.predicted is not None:
                assert 0 <= rec.confidence <= 100
        else:
            sim = backend.similarity(*args)
            assert sim == pytest.approx(expected["similarity"])
            assert sim is None or 0 <= sim <= 100
    assert backend.played == set(range(backend.interaction_count)), "every interaction was replayed"
