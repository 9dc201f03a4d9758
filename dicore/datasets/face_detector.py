"""The face detector the dataset builders crop with: insightface's SCRFD (with ArcFace
behind it), the same pipeline the offline simulators use (`simulators.recognizer`).

Nothing here is simulated: detection finds real faces in your images. It lives in the
`simulators` package only because that is where the model files are loaded.
"""

from __future__ import annotations

from simulators.errors import NoFaceFound
from simulators.recognizer import Face, Recognizer, default_recognizer

__all__ = ["Face", "NoFaceFound", "Recognizer", "face_detector"]


def face_detector() -> Recognizer:
    """The process-wide detector (`recognizer.detect(image) -> [Face, ...]`, largest first)."""
    return default_recognizer()
