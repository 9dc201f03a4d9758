"""AWS Rekognition client (boto3): RecognizeCelebrities and CompareFaces.

Credentials and region come from boto3's usual chain (AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE, ~/.aws, instance roles;
AWS_REGION or AWS_DEFAULT_REGION, else us-east-1). `endpoint=` or
DICORE_AWS_ENDPOINT points the same client at `dicore serve aws`; without
credentials the client then signs with placeholders (the simulator does not
check signatures).

botocore's own retries are off (total_max_attempts=1): each call sends one
request; `RetryPolicy` (the runner's) is the only retry layer. `gate` is called
before every request (the runner's token bucket). The reported face is the
largest one (bounding-box area) among CelebrityFaces and UnrecognizedFaces; if
the largest face is unrecognized, nobody is named even when a smaller face is.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import boto3
import botocore.exceptions
from botocore.config import Config

from dicore.backends.base import (
    BackendError,
    BackendKind,
    BadInputError,
    Recognition,
    ServerError,
    ThrottledError,
    Vendor,
    no_gate,
)
from dicore.backends.common import (
    auth_failed,
    endpoint_override,
    image_label,
    is_simulated_response,
    missing_credential,
)
from dicore.backends.retry import parse_retry_after
from dicore.backends.wire import aws_percent
from dicore.errors import UserError

CREDENTIAL_VARS = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and AWS_REGION"
DEFAULT_REGION = "us-east-1"
THROTTLE_CODES = {
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
}
AUTH_CODES = {
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "IncompleteSignature",
    "MissingAuthenticationTokenException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
}


def _area(face: dict) -> float:
    box = (face or {}).get("BoundingBox") or {}
    return float(box.get("Width", 0.0)) * float(box.get("Height", 0.0))


def celebrity_ids(response: dict, name: str | None) -> tuple[str, ...]:
    """`aws:<Id>` and the Urls of the named celebrity (the largest face's), for name matching."""
    if not name:
        return ()
    for c in response.get("CelebrityFaces") or []:
        if c.get("Name") == name:
            ids = [f"aws:{c['Id']}"] if c.get("Id") else []
            return tuple(ids + [str(u) for u in c.get("Urls") or [] if u])
    return ()


def largest_celebrity(response: dict) -> tuple[str | None, float | None, int]:
    """(name, MatchConfidence, face count) of the largest face in a RecognizeCelebrities answer."""
    named = [(c.get("Face") or {}, c) for c in response.get("CelebrityFaces") or []]
    unnamed = [(f, None) for f in response.get("UnrecognizedFaces") or []]
    faces = named + unnamed
    if not faces:
        return None, None, 0
    _, celeb = max(faces, key=lambda fc: _area(fc[0]))  # max keeps the first of ties
    if celeb is None or not celeb.get("Name"):
        return None, None, len(faces)
    return celeb["Name"], aws_percent(celeb.get("MatchConfidence", 0.0)), len(faces)


class AwsBackend:
    gate: Callable[[], object]  # before every request (the runner's token bucket)
    vendor: Vendor = "aws"
    kind: BackendKind = "live"
    supports_similarity = True

    def __init__(
        self,
        endpoint: str | None = None,
        region: str | None = None,
        placeholder_credentials: bool = False,
        timeout_s: float = 60.0,
    ):
        self.endpoint = endpoint_override("aws", endpoint)
        self.gate = no_gate
        try:
            self.client = self._make_client(region, placeholder_credentials, timeout_s)
        except botocore.exceptions.ProfileNotFound as exc:
            raise UserError(
                f"AWS_PROFILE={os.environ.get('AWS_PROFILE', '')!r}: no such profile in "
                "~/.aws/config or ~/.aws/credentials",
                hint="set AWS_PROFILE to a profile you have (`aws configure list-profiles`) "
                "or unset it and use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
            ) from exc
        except botocore.exceptions.BotoCoreError as exc:  # unreadable config, bad region, ...
            raise UserError(f"AWS configuration: {exc}",
                            hint="check ~/.aws/config and the AWS_* variables") from exc

    def _make_client(self, region: str | None, placeholder_credentials: bool, timeout_s: float):
        session = boto3.session.Session(region_name=region)
        self.region = session.region_name or DEFAULT_REGION
        creds = None if placeholder_credentials else session.get_credentials()
        keys = {}
        if creds is None:
            if self.endpoint is None:
                raise missing_credential("aws", CREDENTIAL_VARS)
            keys = dict(aws_access_key_id="dicore-placeholder", aws_secret_access_key="dicore-placeholder")
        return session.client(
            "rekognition",
            region_name=self.region,
            endpoint_url=self.endpoint,
            config=Config(
                retries={"mode": "standard", "total_max_attempts": 1},
                connect_timeout=10,
                read_timeout=timeout_s,
            ),
            **keys,
        )

    def _call(self, op: str, label: str, **params) -> dict:
        """One request (no retries here: the runner's RetryPolicy is the only layer)."""
        self.gate()
        try:
            return getattr(self.client, op)(**params)
        except botocore.exceptions.ClientError as exc:
            raise _map_error(exc, label) from exc
        except botocore.exceptions.NoCredentialsError as exc:
            raise missing_credential("aws", CREDENTIAL_VARS) from exc
        except botocore.exceptions.HTTPClientError as exc:
            inner = exc.kwargs.get("error")
            if inner is not None and type(inner).__module__.startswith("vcr"):
                raise inner from None  # a cassette miss in replay, not a network problem
            raise ServerError(f"aws {op} for {label}: {exc}", code=type(exc).__name__) from exc
        except botocore.exceptions.EndpointConnectionError as exc:
            raise ServerError(f"aws {op} for {label}: {exc}", code=type(exc).__name__) from exc

    def recognize(self, image: bytes) -> Recognition:
        resp = self._call("recognize_celebrities", image_label(image), Image={"Bytes": bytes(image)})
        name, conf, count = largest_celebrity(resp)
        headers = resp.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        return Recognition(name, conf, count, simulated=is_simulated_response(headers), raw=resp,
                           vendor_ids=celebrity_ids(resp, name))

    def similarity(self, image_a: bytes, image_b: bytes) -> float | None:
        """CompareFaces with threshold 0, so a similarity is always returned when both have faces;
        the value is that of the target's largest face (the source's largest face is AWS's rule)."""
        label = f"{image_label(image_a)} vs {image_label(image_b)}"
        resp = self._call(
            "compare_faces",
            label,
            SourceImage={"Bytes": bytes(image_a)},
            TargetImage={"Bytes": bytes(image_b)},
            SimilarityThreshold=0.0,
        )
        faces = [(m.get("Face") or {}, m.get("Similarity")) for m in resp.get("FaceMatches") or []]
        faces += [(f, None) for f in resp.get("UnmatchedFaces") or []]
        if not faces:
            return None
        _, sim = max(faces, key=lambda fs: _area(fs[0]))
        return None if sim is None else aws_percent(sim)


def _map_error(exc: botocore.exceptions.ClientError, label: str) -> Exception:
    err = exc.response.get("Error", {})
    code = err.get("Code") or "Unknown"
    meta = exc.response.get("ResponseMetadata", {})
    status = meta.get("HTTPStatusCode")
    retry_after = parse_retry_after((meta.get("HTTPHeaders") or {}).get("retry-after"))
    message = f"aws refused {label}: {code}: {err.get('Message', '')}".rstrip(": ")
    if code in AUTH_CODES or status in (401, 403):
        return auth_failed("aws", status or 400, f"{code}: {err.get('Message', '')}", CREDENTIAL_VARS)
    if code in THROTTLE_CODES or status == 429:
        return ThrottledError(message, code=code, status=status, retry_after=retry_after)
    if (status or 0) >= 500:
        return ServerError(message, code=code, status=status, retry_after=retry_after)
    if status and 400 <= status < 500:
        return BadInputError(message, code=code, status=status)
    return BackendError(message, code=code, status=status)
