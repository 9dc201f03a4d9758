"""Naver CLOVA Face Recognition (CFR) celebrity endpoint over the simulated vendor.

``POST /vision/v1/celebrity`` with a multipart field ``image`` (at most 2 MB)
and the API-gateway key headers ``X-NCP-APIGW-API-KEY-ID`` / ``X-NCP-APIGW-API-KEY``.
Naver always names the top-1 celebrity (confidence 0..1). There is no
bounding box in its answers and no face-similarity call.

Errors: a missing or wrong key gets the gateway's verified 401 body. CFR's own
service error codes are not public, so input errors (bad multipart, too large,
not an image) use the gateway's documented 400 shape ``errorCode "100"`` with a
``details`` text; an unknown path gets the gateway's 404 (``errorCode "300"``).
Simulated marks: the ``X-Dicore-Simulated`` header and a top-level ``simulated``.
"""

from __future__ import annotations

from simulators.images import ImageRejected
from simulators.servers.common import Request, Response, json_response
from simulators.servers.urls import match
from simulators.vendor import SimulatedVendor

CONTENT_TYPE = "application/json;charset=UTF-8"
PATH = "/vision/v1/celebrity"
KEY_ID_HEADER = "X-NCP-APIGW-API-KEY-ID"
KEY_HEADER = "X-NCP-APIGW-API-KEY"


class NaverError(Exception):
    def __init__(self, status: int, code: str, message: str, details: str):
        super().__init__(details)
        self.status, self.code, self.message = status, code, message


def _bad_request(details: str) -> NaverError:
    return NaverError(400, "100", "Bad Request Exception", details)


class NaverApp:
    name = "naver"

    def __init__(
        self, vendor: SimulatedVendor, *, key_id: str | None = None, key: str | None = None
    ):
        if vendor.vendor != "naver":
            raise ValueError(
                f"the Naver server needs the 'naver' simulated vendor, not {vendor.vendor!r}"
            )
        self.vendor = vendor
        self.key_id = key_id
        self.key = key

    def handle(self, request: Request) -> Response:
        try:
            self._check_key(request)
            route, groups, why = match("naver", request.method, request.path)
            if why == "path":
                raise NaverError(404, "300", "Not Found Exception", f"no such API: {request.path}")
            if route is None:
                raise _bad_request(f"{request.path} takes POST, not {request.method}")
            return json_response(200, getattr(self, route.handler)(request, **groups), CONTENT_TYPE)
        except NaverError as exc:
            return self._error(exc)

    def transport_error(self, status: int, message: str) -> Response:
        if status >= 500:
            return self._error(NaverError(status, "500", "Endpoint Error", message))
        return self._error(NaverError(status, "100", "Bad Request Exception", message))

    def fault_response(self, kind: str, variant: float, request: Request) -> Response:
        """An injected fault (``--faults``): the API gateway's 429 (errorCode 400, "Quota
        Exceeded", its documented row) or a 500."""
        why = "(injected by dicore --faults)"
        if kind == "throttle":
            return self._error(
                NaverError(429, "400", "Quota Exceeded", f"Too many requests {why}")
            )
        return self._error(NaverError(500, "500", "Endpoint Error", f"Internal error {why}"))

    def fault_key(self, request: Request) -> bytes:
        """The multipart boundary is random per request: key on the fields, not the body."""
        try:
            parts = parse_multipart(request.header("Content-Type") or "", request.body)
        except NaverError:
            return request.body
        return b"\0".join(k.encode() + b"=" + v for k, v in sorted(parts.items()))

    @staticmethod
    def _error(exc: NaverError) -> Response:
        body = {"error": {"errorCode": exc.code, "message": exc.message, "details": str(exc)}}
        return json_response(exc.status, body, CONTENT_TYPE)

    def _check_key(self, request: Request) -> None:
        key_id, key = request.header(KEY_ID_HEADER), request.header(KEY_HEADER)
        if not key_id or not key:
            raise NaverError(
                401, "200", "Authentication Failed", "Authentication information are missing."
            )
        if (self.key_id is not None and key_id != self.key_id) or (
            self.key is not None and key != self.key
        ):
            raise NaverError(
                401, "200", "Authentication Failed", "Invalid authentication information."
            )

    def celebrity(self, request: Request) -> dict:
        if request.query:
            raise _bad_request(f"unknown query parameter(s) {sorted(request.query)}")
        parts = parse_multipart(request.header("Content-Type") or "", request.body)
        if "image" not in parts:
            raise _bad_request("the multipart field 'image' is required")
        extra = sorted(set(parts) - {"image"})
        if extra:
            raise _bad_request(f"unknown multipart field(s) {extra}; the API takes 'image' only")
        try:
            rec = self.vendor.recognize_image(parts["image"])
        except ImageRejected as exc:
            raise _bad_request(f"image rejected ({exc.reason}): {exc}") from None
        faces = [
            {"celebrity": {"value": f.name, "confidence": round((f.confidence or 0.0) / 100.0, 6)}}
            for f in rec.faces
            if f.name is not None
        ]
        return {
            "info": {
                "size": {"width": rec.image.width, "height": rec.image.height},
                "faceCount": len(faces),
            },
            "faces": faces,
            "simulated": True,
        }


def parse_multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """``multipart/form-data`` -> {field name: bytes}. Raises NaverError (400) if malformed."""
    media, _, params = content_type.partition(";")
    if media.strip().lower() != "multipart/form-data":
        raise _bad_request(f"Content-Type must be multipart/form-data, got {media.strip()!r}")
    boundary = None
    for param in params.split(";"):
        k, _, v = param.strip().partition("=")
        if k.lower() == "boundary":
            boundary = v.strip().strip('"')
    if not boundary:
        raise _bad_request("multipart Content-Type has no boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    # find() and one slice per part: no copies of the image beyond the field itself
    pos = body.find(delimiter)
    if pos < 0:
        raise _bad_request("malformed multipart body (no boundary line)")
    fields: dict[str, bytes] = {}
    while True:
        start = pos + len(delimiter)
        if body.startswith(b"--", start):
            break  # the closing boundary
        if not body.startswith(b"\r\n", start):
            raise _bad_request("malformed multipart part (CRLF framing)")
        head_end = body.find(b"\r\n\r\n", start)
        if head_end < 0:
            raise _bad_request("malformed multipart part (no header end)")
        end = body.find(b"\r\n" + delimiter, head_end + 4)
        if end < 0:
            raise _bad_request("malformed multipart body (missing closing boundary)")
        name = _field_name(body[start + 2 : head_end])
        if name is None:
            raise _bad_request("multipart part without a Content-Disposition name")
        fields[name] = body[head_end + 4 : end]
        pos = end + 2
    if not fields:
        raise _bad_request("multipart body has no parts")
    return fields


def _field_name(head: bytes) -> str | None:
    for line in head.split(b"\r\n"):
        hname, _, value = line.decode("latin-1").partition(":")
        if hname.strip().lower() == "content-disposition":
            for item in value.split(";"):
                k, _, v = item.strip().partition("=")
                if k.lower() == "name":
                    return v.strip().strip('"')
    return None
