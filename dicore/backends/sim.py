"""In-process simulator backend: `simulators.vendor.SimulatedVendor`, no HTTP, no keys.

Reports with the same rules as the live clients talking to `dicore serve`, so
`sim` and `live --endpoint <simulator>` agree: the largest face (Azure: the
largest *named* face, as its celebrities model lists only named faces), and for
similarity the target's largest face against the source's largest face.
Every result has `simulated=True`.

`faults=` ("throttle=0.05,server-error=0.02,latency=50ms:200ms", see
`simulators.faults`) makes it fail like the vendor: `ThrottledError` and `ServerError`
with the vendor's own codes, reproducibly for `seed`, as `dicore serve --faults` does.
"""

from __future__ import annotations

from collections.abc import Callable

from dicore.backends.base import (
    BackendKind,
    BadInputError,
    Recognition,
    ServerError,
    ThrottledError,
    Vendor,
    no_gate,
)
from dicore.backends.common import image_label

# the vendor's own codes for an injected fault (as its HTTP simulator answers them)
_FAULT_CODES = {
    "aws": ("ThrottlingException", "InternalServerError"),
    "azure": ("429", "InternalServerError"),
    "naver": ("400", "500"),
}


class SimBackend:
    gate: Callable[[], object]  # before every request (the runner's token bucket)
    kind: BackendKind = "sim"

    def __init__(self, vendor: Vendor, gallery=None, recognizer=None, seed: int = 0,
                 faults=None, **_ignored):
        from simulators.faults import FaultInjector, FaultSpec
        from simulators.vendor import SimulatedVendor, default_vendor

        spec = faults if isinstance(faults, FaultSpec) else FaultSpec.parse(faults)
        self.faults = FaultInjector(spec, seed) if spec.active else None
        self.vendor = vendor
        self.gate = no_gate  # one "request" per call; the runner sets it under --rate
        if gallery is None and recognizer is None and seed == 0:
            self.sim = default_vendor(vendor)  # process-wide: one model load, one cache
        else:
            self.sim = SimulatedVendor(vendor, gallery=gallery, recognizer=recognizer, seed=seed)
        self.supports_similarity = bool(self.sim.policy.has_similarity)

    def _maybe_fail(self, call: str, *images: bytes) -> None:
        if self.faults is None:
            return
        import time

        fault = self.faults.draw(call, *(bytes(i) for i in images))
        if fault.delay_s:
            time.sleep(fault.delay_s)
        if fault.kind is None:
            return
        throttle_code, error_code = _FAULT_CODES[self.vendor]
        what = f"{self.vendor} (simulated) {call} of {image_label(images[0])}"
        if fault.kind == "throttle":
            exc = ThrottledError(f"{what}: {throttle_code} (injected by --faults)",
                                 code=throttle_code, status=429)
            exc.retry_after = None  # type: ignore[attr-defined]
            raise exc
        raise ServerError(f"{what}: {error_code} (injected by --faults)", code=error_code,
                          status=500)

    def recognize(self, image: bytes) -> Recognition:
        from simulators.images import ImageRejected

        self.gate()
        self._maybe_fail("recognize", image)
        try:
            rec = self.sim.recognize_image(bytes(image))
        except ImageRejected as exc:
            raise BadInputError(
                f"{self.vendor} (simulated) refused {image_label(image)}: {exc}", code=exc.reason
            ) from exc
        faces = [f for f in rec.faces if f.name] if self.vendor == "azure" else list(rec.faces)
        top = max(faces, key=lambda f: f.width * f.height) if faces else None
        name = top.name if top else None
        conf = top.confidence if top is not None and name else None
        raw = {"faces": [{"name": f.name, "confidence": f.confidence, "bbox": f.bbox} for f in rec.faces]}
        # AWS names its celebrities with an Id (the simulator's, as `dicore serve aws` sends it).
        ids = (f"aws:{top.celebrity_id}",) if self.vendor == "aws" and name and top and top.celebrity_id else ()
        return Recognition(name, conf, len(faces), simulated=True, raw=raw, vendor_ids=ids)

    def similarity(self, image_a: bytes, image_b: bytes) -> float | None:
        from simulators.images import ImageRejected

        if not self.supports_similarity:
            return None
        self.gate()
        self._maybe_fail("similarity", image_a, image_b)
        try:
            cmp = self.sim.compare_faces(bytes(image_a), bytes(image_b))
        except ImageRejected as exc:
            raise BadInputError(
                f"{self.vendor} (simulated) refused {image_label(image_a)} vs "
                f"{image_label(image_b)}: {exc}",
                code=exc.reason,
            ) from exc
        if not cmp.targets:
            return None
        _, sim = max(cmp.targets, key=lambda ts: ts[0].width * ts[0].height)
        return float(sim)


def load_gallery(path, recognizer=None):
    """The people a simulated vendor knows: a folder `<name>/*.jpg` or a `.npz` saved by
    `simulators.gallery.Gallery.save`; UserError naming the path otherwise."""
    from pathlib import Path

    from dicore.errors import UserError
    from simulators.errors import GalleryError
    from simulators.gallery import Gallery

    path = Path(path)
    hint = "a gallery is a folder <name>/*.jpg (one sub-folder per person) or a .npz saved by Gallery.save"
    if recognizer is None:
        from simulators.recognizer import default_recognizer

        recognizer = default_recognizer()
    try:
        if path.is_dir():
            return Gallery.from_folder(path, recognizer)
        if path.suffix == ".npz" and path.is_file():
            return Gallery.load(path, expected_model_id=recognizer.model_id)
    except GalleryError as exc:
        raise UserError(f"--gallery {path}: {exc}", hint) from None
    raise UserError(f"--gallery {path}: not a folder or a .npz file", hint)
