"""Simulated face-recognition vendors (AWS Rekognition, Azure, Naver CLOVA).

Everything produced here is SIMULATED: an offline ArcFace recognizer
(insightface + onnxruntime) with each vendor's reporting policy applied.
"""

SIMULATED_LABEL = "SIMULATED (dicore offline simulator; not the real vendor API)"
