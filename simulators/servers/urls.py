"""Routing as data (moto's ``urls.py``): which request reaches which response method.

Each vendor's table lists ``Route(method, path pattern, handler)``; the handler is
a method of that vendor's app (``simulators/servers/<vendor>.py``), called with
the request and the pattern's named groups. ``match`` tells a path that no route
serves from a known path asked with the wrong method, so each app can answer the
way its vendor does (Azure and Naver: 404; AWS: UnknownOperationException).
AWS serves every operation on ``POST /``; its operations are chosen by the
``X-Amz-Target`` header (``AWS_OPERATIONS``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    handler: str


def _route(method: str, pattern: str, handler: str) -> Route:
    return Route(method, re.compile(pattern), handler)


AZURE_FACE_VERSIONS = ("v1.0", "v1.1-preview.1", "v1.2-preview.1", "v1.2")
_VERSION = "(?P<version>" + "|".join(map(re.escape, AZURE_FACE_VERSIONS)) + ")"

URLS: dict[str, tuple[Route, ...]] = {
    "aws": (_route("POST", r"^/$", "dispatch"),),
    "azure": (
        _route("POST", r"^/vision/v3\.2/models/(?P<model>[^/]+)/analyze$", "analyze"),
        _route("POST", rf"^/face/{_VERSION}/detect$", "detect"),
        _route("POST", rf"^/face/{_VERSION}/verify$", "verify"),
    ),
    "naver": (_route("POST", r"^/vision/v1/celebrity$", "celebrity"),),
}

# X-Amz-Target "RekognitionService.<Op>" -> the AWS app's method
AWS_TARGET_PREFIX = "RekognitionService."
AWS_OPERATIONS = {
    "RecognizeCelebrities": "recognize_celebrities",
    "CompareFaces": "compare_faces",
    "GetCelebrityInfo": "get_celebrity_info",
}


def match(vendor: str, method: str, path: str) -> tuple[Route | None, dict[str, str], str]:
    """(route, path groups, "") for a served request; (None, {}, why) otherwise, with
    why "path" (no route has this path) or "method" (a route has it, for another method)."""
    path_known = False
    for route in URLS[vendor]:
        m = route.pattern.match(path)
        if m is None:
            continue
        if route.method == method:
            return route, m.groupdict(), ""
        path_known = True
    return None, {}, "method" if path_known else "path"
