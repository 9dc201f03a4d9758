"""Simulated face-recognition vendors (AWS Rekognition, Azure, Naver CLOVA).

Everything produced here is SIMULATED: an offline ArcFace recognizer
(insightface + onnxruntime) with each vendor's reporting policy applied.
"""

from dicore.core.vocab import SIMULATED_LABEL

__all__ = ["SIMULATED_LABEL"]
