"""Naver CLOVA Face Recognition client (REST over requests): celebrity look-alike.

Environment: NAVER_CLIENT_ID and NAVER_CLIENT_SECRET, sent as the API gateway
headers X-NCP-APIGW-API-KEY-ID / X-NCP-APIGW-API-KEY. `endpoint=` or
DICORE_NAVER_ENDPOINT replaces https://naveropenapi.apigw.ntruss.com (e.g. with
`dicore serve naver`); without keys the client then sends placeholders.

CFR has no face-similarity call (supports_similarity is False) and no bounding
boxes, so the reported face is the first one CFR lists. Confidence 0..1 is
converted to percent. CFR names somebody for every face it sees.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import requests

from dicore.backends.base import BackendError, BackendKind, Recognition, Vendor, no_gate
from dicore.backends.common import (
    endpoint_override,
    image_label,
    is_simulated_response,
    missing_credential,
    post_once,
)
from dicore.backends.wire import naver_percent

DEFAULT_ENDPOINT = "https://naveropenapi.apigw.ntruss.com"
CELEBRITY_PATH = "/vision/v1/celebrity"
CREDENTIAL_VARS = "NAVER_CLIENT_ID and NAVER_CLIENT_SECRET"


def first_celebrity(body: dict) -> tuple[str | None, float | None, int]:
    faces = body.get("faces") or []
    count = int((body.get("info") or {}).get("faceCount", len(faces)))
    if not faces:
        return None, None, count
    celeb = faces[0].get("celebrity") or {}
    if not celeb.get("value"):
        return None, None, count
    return celeb["value"], naver_percent(float(celeb.get("confidence", 0.0))), count


class NaverBackend:
    gate: Callable[[], object]  # before every request (the runner's token bucket)
    vendor: Vendor = "naver"
    kind: BackendKind = "live"
    supports_similarity = False

    def __init__(
        self,
        endpoint: str | None = None,
        placeholder_credentials: bool = False,
        timeout_s: float = 60.0,
    ):
        override = endpoint_override("naver", endpoint)
        cid, secret = os.environ.get("NAVER_CLIENT_ID"), os.environ.get("NAVER_CLIENT_SECRET")
        if placeholder_credentials or (override and not (cid and secret)):
            cid = secret = "dicore-placeholder"
        if not cid or not secret:
            raise missing_credential("naver", CREDENTIAL_VARS)
        self.endpoint = override or DEFAULT_ENDPOINT
        self._headers = {"X-NCP-APIGW-API-KEY-ID": cid, "X-NCP-APIGW-API-KEY": secret}
        self.gate = no_gate
        self.timeout_s = timeout_s
        self.session = requests.Session()

    def recognize(self, image: bytes) -> Recognition:
        label = image_label(image)
        self.gate()
        resp = post_once(
            self.session, "naver", self.endpoint + CELEBRITY_PATH, label=label,
            variables=CREDENTIAL_VARS, error_fields=_error_fields, headers=self._headers,
            files={"image": ("image", bytes(image))}, timeout=self.timeout_s,
        )
        try:  # some NCP APIs answer text/plain: parse whatever the Content-Type says
            body = json.loads(resp.content)
        except ValueError as exc:
            raise BackendError(
                f"naver answered {label} with a body that is not JSON: {resp.text[:200]!r}",
                status=resp.status_code,
            ) from exc
        name, conf, count = first_celebrity(body)
        return Recognition(name, conf, count, simulated=is_simulated_response(resp.headers), raw=body)

    def similarity(self, image_a: bytes, image_b: bytes) -> float | None:
        return None  # CFR has no similarity endpoint


def _error_fields(resp: requests.Response) -> tuple[str, str]:
    """Gateway `{"error": {"errorCode", "message", "details"}}` or service `{"errorCode", "errorMessage"}`."""
    try:
        body = json.loads(resp.content)
    except ValueError:
        return str(resp.status_code), resp.text[:200]
    err = body.get("error") if isinstance(body.get("error"), dict) else body
    code = err.get("errorCode") or err.get("code") or resp.status_code
    detail = " ".join(str(err[k]) for k in ("message", "errorMessage", "details") if err.get(k))
    return str(code), detail
