"""AWS Rekognition wire format (JSON 1.1) over the simulated vendor.

``POST /`` with ``X-Amz-Target: RekognitionService.<Op>``: RecognizeCelebrities,
CompareFaces, GetCelebrityInfo. SigV4 ``Authorization`` headers are accepted
and NOT verified (any credentials work; unsigned requests too).

Simulated marks: the ``X-Dicore-Simulated: true`` header, ``x-amzn-RequestId``
starting with ``simulated-`` (boto3 shows it as ResponseMetadata.RequestId) and
celebrity ``Urls`` under ``simulated.dicore.invalid``. Response bodies carry only
members of botocore's service model, so strict parsers accept them.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import uuid

from simulators import wire
from simulators.images import LIMITS, ImageRejected
from simulators.lru import LRUCache
from simulators.servers.common import Request, Response, json_response
from simulators.servers.urls import AWS_OPERATIONS, AWS_TARGET_PREFIX, match
from simulators.vendor import RecognizedFace, SimulatedVendor

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = AWS_TARGET_PREFIX
MAX_IMAGE_BYTES = LIMITS["aws"].max_bytes  # ImageBlob max in the service model
MAX_CELEBRITY_FACES = 64  # "returns the 64 largest faces"
MAX_TARGET_FACES = 100  # CompareFaces compares the target's 100 largest faces
DEFAULT_SIMILARITY_THRESHOLD = 80.0
MEMO_SIZE = 256  # answers remembered by request body
QUALITY_FILTERS = ("NONE", "AUTO", "LOW", "MEDIUM", "HIGH")
INVALID_PARAMETERS = "Request has invalid parameters"  # the service's own wording
URL_PREFIX = "simulated.dicore.invalid/celebrity/"  # no scheme, like the real Urls
# SCRFD's 5 points in order; Rekognition names eyes/mouth by image side (eyeLeft has the smaller X).
LANDMARK_TYPES = ("eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight")


class AwsError(Exception):
    """An error answer: ``__type``, HTTP status, message."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.status = status


def _invalid(detail: str) -> AwsError:
    return AwsError("InvalidParameterException", f"{INVALID_PARAMETERS}: {detail}")


# ImageRejected.reason -> (__type, message prefix)
_REJECTED = {
    "empty": ("InvalidParameterException", INVALID_PARAMETERS),
    "too_few_bytes": ("InvalidParameterException", INVALID_PARAMETERS),
    "too_large": ("ImageTooLargeException", "Image size is too large"),
    "format": ("InvalidImageFormatException", "Request has invalid image format"),
    "unreadable": ("InvalidImageFormatException", "Request has invalid image format"),
    "too_small": ("InvalidParameterException", INVALID_PARAMETERS),
    "no_face": ("InvalidParameterException", INVALID_PARAMETERS),
}


# transport status -> (__type, HTTP status) for requests refused below the JSON layer
_TRANSPORT_ERRORS = {
    400: ("SerializationException", 400),
    408: ("RequestTimeoutException", 408),
    413: ("ImageTooLargeException", 400),
    431: ("SerializationException", 431),
    500: ("InternalServerError", 500),
    503: ("ServiceUnavailableException", 503),
    505: ("SerializationException", 505),
}


class AwsApp:
    name = "aws"

    def __init__(self, vendor: SimulatedVendor):
        if vendor.vendor != "aws":
            raise ValueError(
                f"the AWS server needs the 'aws' simulated vendor, not {vendor.vendor!r}"
            )
        self.vendor = vendor
        # Successful answers by (operation, request body): every operation here is a pure
        # function of its body, so a repeated request skips JSON parsing and base64 decoding
        # (about 3 ms for a 150 KB image; the vendor's own cache then has nothing left to do).
        self._memo: LRUCache[dict] = LRUCache(MEMO_SIZE)
        self.operations = {op: getattr(self, name) for op, name in AWS_OPERATIONS.items()}

    @property
    def memo_hits(self) -> int:
        return self._memo.hits

    # -- transport ------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        try:
            return self._ok(self._dispatch(request))
        except AwsError as exc:
            return self._error(exc)

    def transport_error(self, status: int, message: str) -> Response:
        code, status = _TRANSPORT_ERRORS.get(status, ("SerializationException", 400))
        return self._error(AwsError(code, message, status))

    def fault_response(self, kind: str, variant: float, request: Request) -> Response:
        """An injected fault (``--faults``) in Rekognition's own shape: throttling is
        ThrottlingException (HTTP 500 in the API reference) or
        ProvisionedThroughputExceededException (400), both retried by boto3."""
        why = " (injected by dicore --faults)"
        if kind == "throttle" and variant < 0.5:
            return self._error(AwsError("ThrottlingException", "Rate exceeded" + why, 500))
        if kind == "throttle":
            return self._error(
                AwsError(
                    "ProvisionedThroughputExceededException", "Provisioned rate exceeded" + why
                )
            )
        return self._error(AwsError("InternalServerError", "Internal server error" + why, 500))

    def _dispatch(self, request: Request) -> dict:
        if match("aws", request.method, request.path)[0] is None:
            raise AwsError(
                "UnknownOperationException",
                f"Rekognition takes POST / only (got {request.method} {request.path})",
            )
        target = request.header("X-Amz-Target") or ""
        op = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else None
        if op not in self.operations:
            raise AwsError(
                "UnknownOperationException",
                f"unknown or missing X-Amz-Target {target!r}; this simulator serves "
                + ", ".join(TARGET_PREFIX + o for o in self.operations),
            )
        key = (op, len(request.body), hash(request.body))
        out = self._memo.get(key)
        if out is None:
            out = self._run(op, request.body)
            self._memo.put(key, out)
        return out

    def _run(self, op: str, body: bytes) -> dict:
        try:
            params = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise AwsError("SerializationException", f"request body is not JSON ({exc})") from None
        except RecursionError:  # e.g. 100,000 nested [
            raise AwsError("SerializationException", "request body nests too deeply") from None
        if not isinstance(params, dict):
            raise AwsError("SerializationException", "request body must be a JSON object")
        return self.operations[op](params)

    @staticmethod
    def _ok(body: dict) -> Response:
        return json_response(200, body, CONTENT_TYPE, {"x-amzn-RequestId": _request_id()})

    @staticmethod
    def _error(exc: AwsError) -> Response:
        return json_response(
            exc.status,
            {"__type": exc.code, "Message": str(exc)},
            CONTENT_TYPE,
            {"x-amzn-RequestId": _request_id(), "x-amzn-ErrorType": exc.code},
        )

    # -- request parsing --------------------------------------------------------

    @staticmethod
    def _only(params: dict, allowed: tuple[str, ...]) -> None:
        extra = sorted(set(params) - set(allowed))
        if extra:
            raise _invalid(f"unknown parameter(s) {extra}; this operation takes {list(allowed)}")

    @staticmethod
    def _image_text(params: dict, member: str) -> str:
        """The base64 text of ``member`` (shape and size checked, not decoded)."""
        image = params.get(member)
        if not isinstance(image, dict) or not image:
            raise _invalid(f"{member} is required and must be an object with Bytes")
        if "S3Object" in image:
            raise AwsError(
                "InvalidS3ObjectException",
                "Unable to get object metadata from S3: the simulator has no S3; send Bytes",
            )
        if set(image) != {"Bytes"} or not isinstance(image["Bytes"], str):
            raise _invalid(f"{member} must be {{'Bytes': <base64 string>}}")
        raw = image["Bytes"]
        # The decoded size follows from the base64 length: refuse a huge blob before decoding.
        if len(raw) // 4 * 3 - raw.count("=", -2) > MAX_IMAGE_BYTES:
            raise AwsError(
                "ImageTooLargeException", f"Image size is too large: over {MAX_IMAGE_BYTES} bytes"
            )
        return raw

    @staticmethod
    def _decode(text: str, member: str) -> bytes:
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise _invalid(f"{member}.Bytes is not valid base64") from None
        if not data:
            raise _invalid(f"{member}.Bytes is empty (minimum 1 byte)")
        return data

    @staticmethod
    def _rejected(exc: ImageRejected, member: str) -> AwsError:
        code, prefix = _REJECTED[exc.reason]
        return AwsError(code, f"{prefix}: {member}: {exc}")

    def _recognize(self, data: bytes, member: str):
        try:
            return self.vendor.recognize_image(data)
        except ImageRejected as exc:
            raise self._rejected(exc, member) from None

    # -- operations -------------------------------------------------------------

    def recognize_celebrities(self, params: dict) -> dict:
        self._only(params, ("Image",))
        rec = self._recognize(self._decode(self._image_text(params, "Image"), "Image"), "Image")
        w, h = rec.image.width, rec.image.height
        celebrities, unrecognized = [], []
        for face in rec.faces[:MAX_CELEBRITY_FACES]:
            compared = _compared_face(face, w, h)
            if face.name is None:
                unrecognized.append(compared)
            else:
                celebrities.append(
                    {
                        "Urls": [URL_PREFIX + face.celebrity_id],
                        "Name": face.name,
                        "Id": face.celebrity_id,
                        "Face": compared,
                        "MatchConfidence": _pct(face.confidence),
                    }
                )
        return {"CelebrityFaces": celebrities, "UnrecognizedFaces": unrecognized}

    def compare_faces(self, params: dict) -> dict:
        self._only(params, ("SourceImage", "TargetImage", "SimilarityThreshold", "QualityFilter"))
        threshold = params.get("SimilarityThreshold", DEFAULT_SIMILARITY_THRESHOLD)
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, (int, float))
            or not math.isfinite(threshold)
            or not 0.0 <= threshold <= 100.0
        ):
            raise _invalid(f"SimilarityThreshold must be a number in 0..100, got {threshold!r}")
        quality = params.get("QualityFilter", "NONE")
        if quality not in QUALITY_FILTERS:
            raise _invalid(f"QualityFilter must be one of {list(QUALITY_FILTERS)}, got {quality!r}")
        if quality != "NONE":
            # Rekognition's quality bar is not public; refuse rather than pretend to filter.
            raise _invalid(
                f"QualityFilter {quality!r} is not simulated by dicore; send NONE or omit it"
            )
        images = {
            m: self._decode(self._image_text(params, m), m) for m in ("SourceImage", "TargetImage")
        }
        try:
            cmp = self.vendor.compare_faces(images["SourceImage"], images["TargetImage"])
        except ImageRejected as exc:
            raise self._rejected(exc, f"{(exc.image or 'source').title()}Image") from None
        s, tw, th = cmp.source, cmp.target_image.width, cmp.target_image.height
        matches, unmatched = [], []
        for t, sim in cmp.targets[:MAX_TARGET_FACES]:  # sorted, highest first
            if sim >= threshold:
                matches.append({"Similarity": _pct(sim), "Face": _compared_face(t, tw, th)})
            else:
                unmatched.append(_compared_face(t, tw, th))
        return {
            "SourceImageFace": {
                "BoundingBox": _box(s, cmp.source_image.width, cmp.source_image.height),
                "Confidence": _pct(100.0 * s.det_score),
            },
            "FaceMatches": matches,
            "UnmatchedFaces": unmatched,
        }

    def get_celebrity_info(self, params: dict) -> dict:
        self._only(params, ("Id",))
        cid = params.get("Id")
        if not isinstance(cid, str) or not re.fullmatch(r"[0-9A-Za-z]+", cid):
            raise _invalid(f"Id must be a non-empty string of [0-9A-Za-z], got {cid!r}")
        name = self.vendor.celebrity_name(cid)
        if name is None:
            raise AwsError("ResourceNotFoundException", f"The celebrity id {cid!r} was not found")
        return {"Urls": [URL_PREFIX + cid], "Name": name}


def _request_id() -> str:
    return f"simulated-{uuid.uuid4()}"


def _pct(x: float | None) -> float:
    return wire.aws(min(100.0, max(0.0, float(x or 0.0))))  # float32, as Rekognition prints


def _box(face: RecognizedFace, w: int, h: int) -> dict:
    x1, y1, x2, y2 = face.bbox
    return {"Width": (x2 - x1) / w, "Height": (y2 - y1) / h, "Left": x1 / w, "Top": y1 / h}


def _compared_face(face: RecognizedFace, w: int, h: int) -> dict:
    return {
        "BoundingBox": _box(face, w, h),
        "Confidence": _pct(100.0 * face.det_score),
        "Landmarks": [
            {"Type": t, "X": x / w, "Y": y / h}
            for t, (x, y) in zip(LANDMARK_TYPES, face.landmarks, strict=True)
        ],
    }
