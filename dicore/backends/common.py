"""What the backends share: image names in errors, endpoint overrides, the simulated
marker, and the mapping of HTTP failures to the backend error taxonomy."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

from dicore.backends.base import BackendError, BadInputError, ServerError, ThrottledError
from dicore.errors import UserError

SIM_HINT = "`--backend sim` runs the offline simulator and needs no keys."


class NamedImage(bytes):
    """Image bytes that remember where they came from, for error messages."""

    name: str

    def __new__(cls, data: bytes, name: str):
        obj = super().__new__(cls, data)
        obj.name = name
        return obj


def image_label(image: bytes) -> str:
    """How an error names an image: its name if known, else digest prefix and size."""
    digest = hashlib.sha256(image).hexdigest()[:12]
    name = getattr(image, "name", None)
    if name:
        return f"image {name} (sha256 {digest})"
    return f"image sha256:{digest} ({len(image)} bytes)"


def endpoint_override(vendor: str, endpoint: str | None) -> str | None:
    """`endpoint=` option first, then env `DICORE_<VENDOR>_ENDPOINT`; None = the vendor's."""
    value = endpoint or os.environ.get(f"DICORE_{vendor.upper()}_ENDPOINT") or None
    return value.rstrip("/") if value else None


def is_simulated_response(headers: Mapping[str, str]) -> bool:
    """The dicore simulators mark every response with a header naming 'simulated'."""
    return any("simulated" in str(k).lower() for k in headers)


_SERVE_PORTS = {"aws": 8765, "azure": 8766, "naver": 8767}  # `dicore serve` defaults


def missing_credential(vendor: str, variables: str) -> UserError:
    port = _SERVE_PORTS.get(vendor, 8765)
    return UserError(
        f"no credentials for the live {vendor} backend: set {variables}",
        hint=f"{SIM_HINT} To use a local simulator instead, set DICORE_{vendor.upper()}_ENDPOINT "
        f"(e.g. http://127.0.0.1:{port} from `dicore serve {vendor}`; `dicore record` also "
        "takes --endpoint).",
    )


def auth_failed(vendor: str, status: int, detail: str, variables: str) -> UserError:
    """A 401/403 is about the keys, not the image: stop the run instead of failing every image."""
    return UserError(
        f"{vendor} refused the credentials (HTTP {status}: {detail})",
        hint=f"check {variables} and that the account is approved for this API; {SIM_HINT}",
    )


def http_error(
    vendor: str,
    status: int,
    code: str,
    detail: str,
    label: str,
    variables: str,
    retry_after: float | None = None,
) -> Exception:
    """Map a non-2xx answer of a REST vendor to the backend error taxonomy."""
    message = f"{vendor} refused {label}: HTTP {status} {code}: {detail}".rstrip(": ")
    if status in (401, 403):
        return auth_failed(vendor, status, f"{code}: {detail}", variables)
    if status == 429:
        return ThrottledError(message, code=code, status=status, retry_after=retry_after)
    if status >= 500:
        return ServerError(message, code=code, status=status, retry_after=retry_after)
    if 400 <= status < 500:
        return BadInputError(message, code=code, status=status)
    return BackendError(message, code=code, status=status)


def transport_error(vendor: str, label: str, exc: Exception) -> ServerError:
    """Connection refused/reset or timeout: retryable like a 5xx."""
    return ServerError(f"{vendor} request for {label} failed: {exc}", code=type(exc).__name__)


def post_once(session, vendor: str, url: str, *, label: str, variables: str, error_fields,
              **kwargs):
    """One POST of a REST vendor (Azure, Naver); failures become backend errors.

    `error_fields(response) -> (code, detail)` reads the vendor's error body. Sent exactly
    once: retrying is the runner's (`RetryPolicy.call`, the only retry layer).
    """
    import requests

    from dicore.backends.retry import parse_retry_after

    try:
        resp = session.post(url, **kwargs)
    except requests.RequestException as exc:
        raise transport_error(vendor, label, exc) from exc
    if resp.status_code >= 300:
        code, detail = error_fields(resp)
        raise http_error(vendor, resp.status_code, code, detail, label, variables,
                         parse_retry_after(resp.headers.get("Retry-After")))
    return resp
