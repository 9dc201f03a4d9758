"""Image limits and header checks: what each vendor operation accepts, in one place.

`LIMITS[vendor]` (recognition) and `AZURE_FACE_LIMITS` (Azure Face detect) are the
vendors' documented limits; `image_info` reads format and size from the header only;
`check_limits` raises `ImageRejected` (with a `reason` the HTTP servers map to each
vendor's error) for an image the vendor would refuse. Used by every simulator: the
in-process `sim` backend and the HTTP servers refuse what the real API refuses.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

_MiB = 1024 * 1024
# The simulators' bound on decoded size, checked from the header before any pixel is decoded:
# a 629-byte JPEG can declare 60000x60000 (10.8 GB of BGR). The vendors publish no pixel limit
# for these calls [I], so this is the simulator's own, far above any photo a study sends
# (40 MP = 7300x5475) and small enough to decode (120 MB BGR).
MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class ImageLimits:
    """What a vendor operation accepts. Sizes are of the decoded image bytes."""

    max_bytes: int  # inclusive
    min_side: int  # pixels, both width and height
    formats: frozenset[str]  # PIL format names, lower case
    min_bytes: int = 1
    max_pixels: int = MAX_PIXELS  # width x height, from the header


LIMITS: dict[str, ImageLimits] = {
    # Rekognition: ImageBlob 1..5242880 bytes, PNG/JPEG, at least 80x80 px.
    "aws": ImageLimits(5 * _MiB, 80, frozenset({"jpeg", "png"})),
    # Computer Vision v3.2: "smaller than 4 MB", at least 50x50, JPEG/PNG/GIF/BMP.
    "azure": ImageLimits(4 * _MiB - 1, 50, frozenset({"jpeg", "png", "gif", "bmp"})),
    # CLOVA CFR: at most 2 MB; formats and minimum size are not documented [I].
    "naver": ImageLimits(2 * _MiB, 1, frozenset({"jpeg", "png", "gif", "bmp"})),
}
# Azure Face detect: 1 KB .. 6 MB, JPEG/PNG/GIF/BMP (SDK docstring).
AZURE_FACE_LIMITS = ImageLimits(6 * _MiB, 1, frozenset({"jpeg", "png", "gif", "bmp"}), 1024)


class ImageRejected(Exception):
    """The vendor would refuse this image. ``reason`` is one of REASONS."""

    REASONS = (
        "empty",
        "too_large",
        "too_few_bytes",
        "format",
        "too_small",
        "unreadable",
        "no_face",
    )

    def __init__(self, reason: str, message: str, image: str | None = None):
        assert reason in self.REASONS, reason
        super().__init__(message)
        self.reason = reason
        self.image = image  # compare_faces: "source" or "target"
        self.info: ImageInfo | None = None  # set when the header was readable


@dataclass(frozen=True)
class ImageInfo:
    format: str  # PIL name, lower case: jpeg, png, gif, bmp, ...
    width: int
    height: int
    n_bytes: int


def image_info(data: bytes) -> ImageInfo:
    """Format and size from the image header only (no pixel decoding)."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # check_limits decides
            with Image.open(io.BytesIO(data)) as im:
                fmt, (w, h) = (im.format or "unknown").lower(), im.size
                return ImageInfo(fmt, w, h, len(data))
    except Image.DecompressionBombError:
        # PIL refuses to open headers over 2 x its own limit (179 MP): a bomb by any measure.
        raise ImageRejected(
            "too_large",
            "the image header declares a size PIL refuses to open (a decompression bomb); "
            f"the limit is {MAX_PIXELS} pixels",
        ) from None
    except (UnidentifiedImageError, OSError, ValueError):
        # PIL's message embeds a memory address; keep answers (and cassettes) deterministic.
        raise ImageRejected("format", "not a recognised image format") from None


def check_limits(info: ImageInfo, limits: ImageLimits) -> None:
    """Raise ImageRejected if the image breaks an operation's limits."""
    if info.n_bytes > limits.max_bytes:
        raise ImageRejected(
            "too_large", f"image is {info.n_bytes} bytes; the limit is {limits.max_bytes}"
        )
    if info.n_bytes < limits.min_bytes:
        raise ImageRejected(
            "too_few_bytes", f"image is {info.n_bytes} bytes; the minimum is {limits.min_bytes}"
        )
    if info.width * info.height > limits.max_pixels:
        raise ImageRejected(
            "too_large",
            f"image is {info.width}x{info.height} px ({info.width * info.height} pixels); "
            f"the limit is {limits.max_pixels} pixels",
        )
    if info.format not in limits.formats:
        raise ImageRejected(
            "format", f"image format {info.format!r} is not one of {sorted(limits.formats)}"
        )
    if min(info.width, info.height) < limits.min_side:
        raise ImageRejected(
            "too_small",
            f"image is {info.width}x{info.height} px; both sides must be at least {limits.min_side}",
        )
