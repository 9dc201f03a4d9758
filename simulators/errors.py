"""Typed errors of the offline recognizer, gallery and attacks.

Every recognizer failure is a ``RecognizerError`` so callers (the simulated
vendors, the HTTP servers) can turn it into a per-image 4xx answer.
"""

from __future__ import annotations


class RecognizerError(Exception):
    """Base class: an image could not be turned into a face embedding."""

    def __init__(self, message: str, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


class ImageUnreadable(RecognizerError):
    """The input is not a readable image (missing file, not an image, bad array)."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"cannot read image {source}: {reason}", source)
        self.reason = reason


class ImageTooSmall(RecognizerError):
    """The image is smaller than the recognizer accepts."""

    def __init__(self, source: str, size: tuple[int, int], minimum: int) -> None:
        w, h = size
        super().__init__(
            f"image {source} is {w}x{h} px; the shorter side must be at least {minimum} px",
            source,
        )
        self.size = size
        self.minimum = minimum


class NoFaceFound(RecognizerError):
    """The detector found no face above its score threshold."""

    def __init__(self, source: str, size: tuple[int, int], det_thresh: float) -> None:
        w, h = size
        super().__init__(
            f"no face found in image {source} ({w}x{h} px, detection threshold {det_thresh})",
            source,
        )
        self.size = size
        self.det_thresh = det_thresh


class ModelFileError(RecognizerError):
    """An ONNX model file is missing or is not the kind of model expected."""


class GalleryError(ValueError):
    """A gallery could not be built, or a gallery file is invalid."""
