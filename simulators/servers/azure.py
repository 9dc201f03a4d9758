"""Azure wire formats over the simulated vendor.

- Computer Vision v3.2 ``POST /vision/v3.2/models/celebrities/analyze``
  (octet-stream image; a JSON ``{"url": ...}`` body is refused: the simulator
  fetches nothing).
- Face ``POST /face/{v1.0|v1.1-preview.1|v1.2-preview.1|v1.2}/detect`` and
  ``/verify`` (face to face). faceIds live ``faceIdTimeToLive`` seconds
  (60..86400, default the server's ``face_ttl_s``, 24 h).

Every request needs ``Ocp-Apim-Subscription-Key``; when the app has a ``key``
it must match, otherwise any non-empty key is accepted. Simulated marks: the
``X-Dicore-Simulated`` header, ``result.simulated`` in Computer Vision answers
(the SDK returns ``result`` as a plain dict) and ``simulated`` in verify answers.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simulators.images import AZURE_FACE_LIMITS, ImageRejected
from simulators.lru import LRUCache
from simulators.servers.common import Request, Response, json_response
from simulators.servers.urls import AZURE_FACE_VERSIONS, match
from simulators.vendor import SimulatedVendor

CONTENT_TYPE = "application/json; charset=utf-8"
MODEL_VERSION = "2021-04-01"
LANGUAGES = ("en", "es", "ja", "pt", "zh")
FACE_VERSIONS = AZURE_FACE_VERSIONS
DETECTION_MODELS = ("detection_01", "detection_02", "detection_03")
RECOGNITION_MODELS = ("recognition_01", "recognition_02", "recognition_03", "recognition_04")
DEFAULT_TTL_S = 86400
MIN_TTL_S, MAX_TTL_S = 60, 86400
MAX_STORED_FACES = 100_000  # oldest faceIds are forgotten beyond this
MAX_DETECTED_FACES = 100
MISSING_KEY = (
    "Access denied due to missing subscription key. "
    "Make sure to include subscription key when making requests to an API."
)
INVALID_KEY = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
    "a valid key for an active subscription and use a correct regional API endpoint for your resource."
)
# SCRFD's 5 points -> Face landmarks (pupilLeft has the smaller x, as in Azure's samples).
FACE_LANDMARKS = ("pupilLeft", "pupilRight", "noseTip", "mouthLeft", "mouthRight")
_DIGITS = re.compile(r"[0-9]{1,9}")
_MODEL_VERSION = re.compile(r"^(latest|\d{4}-\d{2}-\d{2})(-preview)?$")


class AzureError(Exception):
    """An ``{"error": {code, message[, innererror]}}`` answer."""

    def __init__(self, status: int, code: str, message: str, inner: str | None = None):
        super().__init__(message)
        self.status, self.code, self.inner = status, code, inner

    def body(self) -> dict:
        err: dict = {"code": self.code, "message": str(self)}
        if self.inner:
            err["innererror"] = {"code": self.inner, "message": str(self)}
        return {"error": err}


def _cv_error(inner: str, message: str, status: int = 400) -> AzureError:
    return AzureError(status, "InvalidRequest", message, inner)


def _bad(message: str) -> AzureError:
    return AzureError(400, "BadArgument", message)


@dataclass(frozen=True)
class _StoredFace:
    embedding: np.ndarray
    recognition_model: str
    expires_at: float


class AzureApp:
    name = "azure"

    def __init__(
        self,
        vendor: SimulatedVendor,
        *,
        key: str | None = None,
        face_ttl_s: int = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        if vendor.vendor != "azure":
            raise ValueError(
                f"the Azure server needs the 'azure' simulated vendor, not {vendor.vendor!r}"
            )
        if not MIN_TTL_S <= face_ttl_s <= MAX_TTL_S:
            raise ValueError(f"face_ttl_s must be in {MIN_TTL_S}..{MAX_TTL_S}, got {face_ttl_s}")
        self.vendor = vendor
        self.key = key
        self.face_ttl_s = face_ttl_s
        self.clock = clock
        self._faces: LRUCache[_StoredFace] = LRUCache(MAX_STORED_FACES)  # oldest forgotten first

    # -- transport ------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        try:
            self._check_key(request)
            route, groups, _ = match("azure", request.method, request.path)
            if route is None:
                raise AzureError(
                    404, "404", f"Resource not found ({request.method} {request.path})"
                )
            body: dict | list = getattr(self, route.handler)(request, **groups)
            return json_response(200, body, CONTENT_TYPE, {"apim-request-id": str(uuid.uuid4())})
        except AzureError as exc:
            return self._error(exc)

    def transport_error(self, status: int, message: str) -> Response:
        code = {408: "Timeout", 500: "InternalServerError", 503: "ServiceUnavailable"}
        return self._error(AzureError(status, code.get(status, "BadArgument"), message))

    def fault_response(self, kind: str, variant: float, request: Request) -> Response:
        """An injected fault (``--faults``): Azure's 429 with ``Retry-After`` (Face says
        RateLimitExceeded, Computer Vision "429"), or a 500."""
        why = " (injected by dicore --faults)"
        if kind == "throttle":
            code = "RateLimitExceeded" if request.path.startswith("/face/") else "429"
            response = self._error(
                AzureError(429, code, "Rate limit is exceeded. Try again in 1 seconds." + why)
            )
            response.headers["Retry-After"] = "1"
            return response
        return self._error(AzureError(500, "InternalServerError", "Internal server error." + why))

    def fault_key(self, request: Request) -> bytes:
        """What identifies a request across runs: verify's faceIds are random, so its key is
        the embeddings they stand for."""
        if not request.path.endswith("/verify"):
            return request.body
        try:
            body = json.loads(request.body)
            faces = [self._faces.peek(body[k]) for k in ("faceId1", "faceId2")]
        except Exception:
            return request.body
        embeddings = [f.embedding.tobytes() for f in faces if f is not None]
        return b"".join(embeddings) if len(embeddings) == 2 else request.body

    @staticmethod
    def _error(exc: AzureError) -> Response:
        return json_response(
            exc.status, exc.body(), CONTENT_TYPE, {"apim-request-id": str(uuid.uuid4())}
        )

    def _check_key(self, request: Request) -> None:
        got = request.header("Ocp-Apim-Subscription-Key")
        if not got:
            raise AzureError(401, "401", MISSING_KEY)
        if self.key is not None and got != self.key:
            raise AzureError(401, "401", INVALID_KEY)

    @staticmethod
    def _only(query: dict, allowed: tuple[str, ...], error) -> None:
        extra = sorted(set(query) - set(allowed))
        if extra:
            raise error(f"unknown query parameter(s) {extra}; this operation takes {list(allowed)}")

    @staticmethod
    def _media(request: Request) -> str:
        return (request.header("Content-Type") or "").split(";")[0].strip().lower()

    # -- Computer Vision: celebrities ---------------------------------------------

    def analyze(self, request: Request, model: str) -> dict:
        self._only(
            request.query, ("language", "model-version"), lambda m: _cv_error("BadArgument", m)
        )
        if model != "celebrities":
            raise _cv_error(
                "InvalidModel",
                f"Specified model is not supported: {model!r} (simulated: celebrities only)",
            )
        language = request.query.get("language", "en")
        if language not in LANGUAGES:
            raise _cv_error(
                "NotSupportedLanguage",
                f"language must be one of {list(LANGUAGES)}, got {language!r}",
            )
        version = request.query.get("model-version", "latest")
        if not _MODEL_VERSION.match(version):
            raise _cv_error(
                "BadArgument", f"model-version {version!r} does not match {_MODEL_VERSION.pattern}"
            )
        media = self._media(request)
        if media == "application/json":
            raise _cv_error(
                "InvalidImageUrl",
                "Image URL is not accessible: the dicore simulator fetches no URLs; "
                "send the image bytes as application/octet-stream",
            )
        if media != "application/octet-stream":
            raise _cv_error(
                "UnsupportedMediaType",
                f"Content-Type {media!r} is not supported (application/octet-stream or application/json)",
                415,
            )
        try:
            rec = self.vendor.recognize_image(request.body)
        except ImageRejected as exc:
            raise _cv_image_error(exc) from None
        celebrities = [
            {
                "name": f.name,
                "faceRectangle": _rectangle(f.bbox),
                "confidence": round((f.confidence or 0.0) / 100.0, 9),
            }
            for f in rec.faces
            if f.name is not None
        ]
        return {
            "requestId": str(uuid.uuid4()),
            "metadata": {
                "width": rec.image.width,
                "height": rec.image.height,
                "format": rec.image.format.title(),
            },
            "modelVersion": MODEL_VERSION,
            "result": {"celebrities": celebrities, "simulated": True},
        }

    # -- Face: detect, verify -------------------------------------------------------

    def detect(self, request: Request, version: str) -> list[dict]:
        q = request.query
        self._only(
            q,
            (
                "returnFaceId",
                "returnFaceLandmarks",
                "returnFaceAttributes",
                "recognitionModel",
                "returnRecognitionModel",
                "detectionModel",
                "faceIdTimeToLive",
            ),
            _bad,
        )
        detection = q.get("detectionModel", "detection_01")
        if detection not in DETECTION_MODELS:
            raise _bad("'detectionModel' is invalid.")
        recognition = q.get("recognitionModel", "recognition_01")
        if recognition not in RECOGNITION_MODELS:
            raise _bad("'recognitionModel' is invalid.")
        return_id = _flag(q, "returnFaceId", True)
        return_landmarks = _flag(q, "returnFaceLandmarks", False)
        return_model = _flag(q, "returnRecognitionModel", False)
        if q.get("returnFaceAttributes"):
            raise _bad("returnFaceAttributes is not simulated by dicore; omit it")
        ttl = q.get("faceIdTimeToLive", str(self.face_ttl_s))
        # ASCII digits only: str.isdigit() is also true of "²" and "٣" (int() then fails or
        # reads another script's digits).
        if not _DIGITS.fullmatch(ttl) or not MIN_TTL_S <= int(ttl) <= MAX_TTL_S:
            raise _bad(f"'faceIdTimeToLive' must be an integer in {MIN_TTL_S}..{MAX_TTL_S}.")
        media = self._media(request)
        if media == "application/json":
            raise AzureError(
                400, "InvalidURL", "Invalid image URL. (the dicore simulator fetches no URLs)"
            )
        if media != "application/octet-stream":
            raise AzureError(415, "BadArgument", "Invalid Media Type.")
        try:
            rec = self.vendor.recognize_image(request.body, AZURE_FACE_LIMITS)
            faces = rec.faces[:MAX_DETECTED_FACES]
        except ImageRejected as exc:
            if exc.reason != "too_small":
                raise _face_image_error(exc) from None
            faces = ()  # smaller than the recognizer's minimum: no 36 px face fits, so no face
        out = []
        for f in faces:
            item: dict = {}
            if return_id:
                item["faceId"] = self._store(f.embedding, recognition, int(ttl))
            if return_model:
                item["recognitionModel"] = recognition
            item["faceRectangle"] = _rectangle(f.bbox)
            if return_landmarks:  # only the 5 points the simulator has, of Azure's 27
                item["faceLandmarks"] = {
                    name: {"x": round(x, 1), "y": round(y, 1)}
                    for name, (x, y) in zip(FACE_LANDMARKS, f.landmarks, strict=True)
                }
            out.append(item)
        return out

    def verify(self, request: Request, version: str) -> dict:
        if request.query:
            raise _bad(f"unknown query parameter(s) {sorted(request.query)}; verify takes none")
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[...
            raise _bad("JSON parsing error.") from None
        if not isinstance(body, dict):
            raise _bad("Request body is invalid.")
        if {"personId", "personGroupId", "largePersonGroupId"} & set(body):
            raise _bad(
                "Verify against a person is not simulated by dicore; send faceId1 and faceId2."
            )
        if set(body) != {"faceId1", "faceId2"} or not all(
            isinstance(v, str) for v in body.values()
        ):
            raise _bad("Request body is invalid. (expected exactly faceId1 and faceId2, strings)")
        a, b = self._lookup(body["faceId1"]), self._lookup(body["faceId2"])
        if a.recognition_model != b.recognition_model:
            raise _bad(
                "faceId1 and faceId2 were detected with different recognition models "
                f"({a.recognition_model}, {b.recognition_model})."
            )
        confidence = round(self.vendor.similarity(a.embedding, b.embedding) / 100.0, 5)
        return {"isIdentical": confidence >= 0.5, "confidence": confidence, "simulated": True}

    # -- the faceId store -------------------------------------------------------

    def _store(self, embedding: np.ndarray, recognition: str, ttl: int) -> str:
        face_id = str(uuid.uuid4())
        now = self.clock()
        self._faces.put(face_id, _StoredFace(embedding, recognition, now + ttl))
        return face_id

    def _lookup(self, face_id: str) -> _StoredFace:
        face = self._faces.peek(face_id)  # a lookup does not refresh: faceIds expire
        if face is not None and self.clock() >= face.expires_at:
            self._faces.pop(face_id)
            face = None
        if face is None:
            raise AzureError(
                404, "FaceNotFound", f"Face is not found: {face_id} (unknown or expired)."
            )
        return face


def _flag(query: dict, name: str, default: bool) -> bool:
    raw = query.get(name)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false"):
        raise _bad(f"'{name}' must be true or false, got {raw!r}.")
    return raw.lower() == "true"


def _rectangle(bbox: tuple[float, float, float, float]) -> dict:
    x1, y1, x2, y2 = bbox
    left, top = max(0, round(x1)), max(0, round(y1))
    return {
        "left": left,
        "top": top,
        "width": max(1, round(x2) - left),
        "height": max(1, round(y2) - top),
    }


def _cv_image_error(exc: ImageRejected) -> AzureError:
    if exc.reason in ("too_large",):
        return _cv_error("InvalidImageSize", f"Input image is too large. ({exc})")
    if exc.reason == "too_small":
        return _cv_error("InvalidImageSize", f"Input image is too small. ({exc})")
    return _cv_error("InvalidImageFormat", f"Input data is not a valid image. ({exc})")


def _face_image_error(exc: ImageRejected) -> AzureError:
    if exc.reason in ("empty", "too_few_bytes"):
        return AzureError(400, "InvalidImageSize", f"Image size is too small. ({exc})")
    if exc.reason == "too_large":
        return AzureError(400, "InvalidImageSize", f"Image size is too big. ({exc})")
    return AzureError(400, "InvalidImage", f"Decoding error, image format unsupported. ({exc})")
