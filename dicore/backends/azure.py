"""Azure client (REST over requests): Computer Vision v3.2 celebrities, Face detect + verify.

Environment: AZURE_VISION_ENDPOINT and AZURE_VISION_KEY (Computer Vision
resource); AZURE_FACE_ENDPOINT and AZURE_FACE_KEY (Face resource; default to
the vision ones, as a multi-service resource serves both). `endpoint=` or
DICORE_AZURE_ENDPOINT sends both APIs to one base URL, e.g. `dicore serve azure`;
without keys the client then sends a placeholder key.

Celebrity recognition and Face verify are Limited Access at Microsoft: an
unapproved resource gets 403, reported as a credential problem.
The celebrities model lists only the faces it names, so the reported face is
the largest *named* face and face_count counts named faces only.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from typing import cast

import requests

from dicore.backends.base import BackendError, BackendKind, Recognition, Vendor, no_gate
from dicore.backends.common import (
    endpoint_override,
    image_label,
    is_simulated_response,
    missing_credential,
    post_once,
)
from dicore.backends.wire import azure_percent

VISION_VARS = "AZURE_VISION_ENDPOINT and AZURE_VISION_KEY"
FACE_VARS = "AZURE_FACE_ENDPOINT and AZURE_FACE_KEY (or the AZURE_VISION_* pair)"
CELEBRITIES_PATH = "/vision/v3.2/models/celebrities/analyze"
# The query the legacy Face SDK sends (recorded in VENDOR_APIS.md); recognition_04 is the current model.
DETECT_PARAMS = {
    "returnFaceId": "true",
    "returnFaceLandmarks": "false",
    "recognitionModel": "recognition_04",
    "returnRecognitionModel": "false",
    "detectionModel": "detection_03",
    "faceIdTimeToLive": "86400",
}
FACE_ID_REUSE_S = 86400 - 3600  # an hour short of the TTL, so a reused id has not expired
FACE_ID_CACHE = 100_000


def _area(rect: dict | None) -> float:
    rect = rect or {}
    return float(rect.get("width", 0)) * float(rect.get("height", 0))


def largest_celebrity(body: dict) -> tuple[str | None, float | None, int]:
    """(name, confidence percent, named-face count) from a celebrities analyze answer."""
    celebs = ((body.get("result") or {}).get("celebrities")) or []
    if not celebs:
        return None, None, 0
    top = max(celebs, key=lambda c: _area(c.get("faceRectangle")))
    return top.get("name") or None, azure_percent(float(top.get("confidence", 0.0))), len(celebs)


class AzureBackend:
    gate: Callable[[], object]  # before every request (the runner's token bucket)
    vendor: Vendor = "azure"
    kind: BackendKind = "live"
    supports_similarity = True

    def __init__(
        self,
        endpoint: str | None = None,
        face_api_version: str = "v1.0",
        placeholder_credentials: bool = False,
        timeout_s: float = 60.0,
    ):
        override = endpoint_override("azure", endpoint)
        env = os.environ
        vision_ep = override or env.get("AZURE_VISION_ENDPOINT")
        vision_key = env.get("AZURE_VISION_KEY")
        face_ep = override or env.get("AZURE_FACE_ENDPOINT") or vision_ep
        face_key = env.get("AZURE_FACE_KEY") or vision_key
        if placeholder_credentials or (override and not vision_key):
            vision_key = face_key = "dicore-placeholder"
        if not vision_ep or not vision_key:
            raise missing_credential("azure", VISION_VARS)
        self.vision_endpoint = vision_ep.rstrip("/")
        # past the check: face_ep falls back to vision_ep, face_key to vision_key
        self.face_endpoint = cast(str, face_ep).rstrip("/")
        self._vision_key, self._face_key = vision_key, cast(str, face_key)
        self.face_api_version = face_api_version
        self.gate = no_gate
        self.timeout_s = timeout_s
        self.session = requests.Session()
        self._face_ids: dict[bytes, tuple[str, float]] = {}

    def _post(self, url: str, label: str, key: str, variables: str, **kw) -> requests.Response:
        headers = {"Ocp-Apim-Subscription-Key": key, "Accept": "application/json"}
        headers.update(kw.pop("headers", {}))
        self.gate()  # every request takes a token: a similarity is up to three of them
        return post_once(
            self.session, "azure", url, label=label, variables=variables,
            error_fields=_error_fields, headers=headers, timeout=self.timeout_s, **kw,
        )

    def recognize(self, image: bytes) -> Recognition:
        label = image_label(image)
        resp = self._post(
            self.vision_endpoint + CELEBRITIES_PATH,
            label,
            self._vision_key,
            VISION_VARS,
            params={"language": "en", "model-version": "latest"},
            data=bytes(image),
            headers={"Content-Type": "application/octet-stream"},
        )
        body = _json(resp, label)
        name, conf, count = largest_celebrity(body)
        return Recognition(name, conf, count, simulated=is_simulated_response(resp.headers), raw=body)

    def _detect(self, image: bytes) -> str | None:
        # A faceId lives faceIdTimeToLive (24 h): reuse it instead of detecting an image again.
        key = hashlib.sha256(image).digest()
        hit = self._face_ids.get(key)
        if hit and hit[1] > time.monotonic():
            return hit[0]
        face_id = self._detect_uncached(image)
        if face_id:
            if len(self._face_ids) >= FACE_ID_CACHE:
                self._face_ids.clear()
            self._face_ids[key] = (face_id, time.monotonic() + FACE_ID_REUSE_S)
        return face_id

    def _detect_uncached(self, image: bytes) -> str | None:
        label = image_label(image)
        resp = self._post(
            f"{self.face_endpoint}/face/{self.face_api_version}/detect",
            label,
            self._face_key,
            FACE_VARS,
            params=DETECT_PARAMS,
            data=bytes(image),
            headers={"Content-Type": "application/octet-stream"},
        )
        faces = _json(resp, label)
        if not isinstance(faces, list) or not faces:
            return None
        return max(faces, key=lambda f: _area(f.get("faceRectangle"))).get("faceId")

    def similarity(self, image_a: bytes, image_b: bytes) -> float | None:
        """Detect the largest face of each image, then verify face to face; confidence in percent.
        None when either image has no face."""
        id_a, id_b = self._detect(image_a), self._detect(image_b)
        if not id_a or not id_b:
            return None
        label = f"{image_label(image_a)} vs {image_label(image_b)}"
        resp = self._post(
            f"{self.face_endpoint}/face/{self.face_api_version}/verify",
            label,
            self._face_key,
            FACE_VARS,
            json={"faceId1": id_a, "faceId2": id_b},
        )
        body = _json(resp, label)
        return azure_percent(float(body["confidence"])) if "confidence" in body else None


def _json(resp: requests.Response, label: str):
    try:
        return resp.json()
    except ValueError as exc:
        raise BackendError(
            f"azure answered {label} with a body that is not JSON: {resp.text[:200]!r}",
            status=resp.status_code,
        ) from exc


def _error_fields(resp: requests.Response) -> tuple[str, str]:
    """(code, message) from `{"error": {"code", "message", "innererror": {...}}}`; inner code wins."""
    try:
        err = resp.json().get("error") or {}
    except (ValueError, AttributeError):
        return str(resp.status_code), resp.text[:200]
    inner = err.get("innererror") or {}
    return str(inner.get("code") or err.get("code") or resp.status_code), str(
        inner.get("message") or err.get("message") or ""
    )
