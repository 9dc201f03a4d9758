"""Manifests from the dataset layouts users have on disk.

Each builder first *discovers* media (images or videos, real or fake, with their
identities) from a documented layout, then `materialize` turns them into
manifest rows: videos give N seeded frames each (written as JPEG under the
output folder), faces are optionally cropped with the recognizer, and each fake
is paired with the first real item (by id) of its target in the same dataset.
Anything that cannot be used is skipped with a reason, never silently.

Layouts (identities are folder or file names; `*` is any image or video):

- `celebdf` (Celeb-DF v2): `Celeb-real/idX_NNNN.mp4`, `Celeb-synthesis/idX_idY_NNNN.mp4`,
  `YouTube-real/*.mp4`, optional `List_of_testing_videos.txt`. Our reading of the
  names: `id0_id16_0000.mp4` is the real video `Celeb-real/id0_0000.mp4` with the
  face of id16 swapped in (face-swap "destination" id0, "source" id16). The person
  the fake impersonates, the paper's target T, is therefore the *second* id (id16);
  the first (id0) is the reference R. `target_position="first"` flips this.
  YouTube-real videos show unnamed people, so they cannot be anyone's X_T: skipped.
- `voxceleb-th` (talking-head outputs): `<target>/real/*` and `<target>/fake/*` or
  `<target>/fake/<driver>/*`; method `reenactment`, reference = driver.
- `fom` (first-order-motion outputs): `source/<target>.*` or `source/<target>/*` (the
  real source images) and `generated/<target>/<driver>.*` or
  `generated/<target>/<driver>/*`; method `reenactment`.
- `blend` (two sources): `real/<identity>/*` and `blend/<a>__<b>/*` or
  `blend/<a>__<b>[__anything].*`; method `synthesis`, target a, reference b.
- `generic`: `real/<identity>/*` and `fake/<target>/*` or `fake/<target>/<reference>/*`;
  method given by the caller (default `replacement`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dicore.datasets.frames import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    FrameError,
    crop_face,
    sample_frames,
    write_jpeg,
)
from dicore.datasets.manifest import ManifestRow, write_manifest
from dicore.errors import UserError

MEDIA_SUFFIXES = IMAGE_SUFFIXES + VIDEO_SUFFIXES


@dataclass(frozen=True)
class Media:
    """One discovered file before frame sampling."""

    path: Path
    is_fake: bool
    method: str
    target: str
    reference: str = ""


@dataclass
class BuildResult:
    rows: list[ManifestRow]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    manifest: Path | None = None

    @property
    def n_fake(self) -> int:
        return sum(r.is_fake for r in self.rows)


def _media_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in MEDIA_SUFFIXES
    )


def _subdirs(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _require(root: Path, *names: str) -> None:
    if not root.is_dir():
        raise UserError(f"dataset folder {root} does not exist")
    missing = [n for n in names if not (root / n).is_dir()]
    if missing:
        raise UserError(
            f"{root}: expected folder(s) {', '.join(missing)} not found",
            hint="see the layouts in docs/study.md (section Datasets)",
        )


# ---- discovery, one function per layout ---------------------------------------------

_CELEB_REAL = re.compile(r"^(id\d+)_(\d+)$")
_CELEB_FAKE = re.compile(r"^(id\d+)_(id\d+)_(\d+)$")


def celebdf_media(
    root: Path, *, testing_only: bool = False, target_position: str = "second"
) -> tuple[list[Media], list[tuple[str, str]]]:
    _require(root, "Celeb-real", "Celeb-synthesis")
    skipped: list[tuple[str, str]] = []
    allowed: set[str] | None = None
    if testing_only:
        listing = root / "List_of_testing_videos.txt"
        if not listing.is_file():
            raise UserError(f"{listing} not found", hint="drop testing_only to use every video")
        allowed = set()
        for n, line in enumerate(listing.read_text().splitlines(), 1):
            parts = line.split()
            if len(parts) != 2:
                if line.strip():
                    raise UserError(f"{listing} line {n}: expected '<label> <path>', got {line!r}")
                continue
            allowed.add(parts[1].replace("\\", "/"))
    media: list[Media] = []
    for p in _media_files(root / "Celeb-real"):
        rel = p.relative_to(root).as_posix()
        if allowed is not None and rel not in allowed:
            continue
        m = _CELEB_REAL.match(p.stem)
        if not m:
            skipped.append((rel, "name is not idX_NNNN"))
            continue
        media.append(Media(p, False, "real", m.group(1)))
    for p in _media_files(root / "Celeb-synthesis"):
        rel = p.relative_to(root).as_posix()
        if allowed is not None and rel not in allowed:
            continue
        m = _CELEB_FAKE.match(p.stem)
        if not m:
            skipped.append((rel, "name is not idX_idY_NNNN"))
            continue
        dest, face = m.group(1), m.group(2)
        target, ref = (face, dest) if target_position == "second" else (dest, face)
        media.append(Media(p, True, "replacement", target, ref))
    for p in _media_files(root / "YouTube-real"):
        skipped.append((p.relative_to(root).as_posix(), "YouTube-real: identity unknown"))
    return media, skipped


def voxceleb_th_media(root: Path) -> tuple[list[Media], list[tuple[str, str]]]:
    if not root.is_dir():
        raise UserError(f"dataset folder {root} does not exist")
    media, skipped = [], []
    for tdir in _subdirs(root):
        target = tdir.name
        if not (tdir / "real").is_dir() and not (tdir / "fake").is_dir():
            skipped.append((tdir.name, "no real/ or fake/ inside"))
            continue
        media += [Media(p, False, "real", target) for p in _media_files(tdir / "real")]
        for p in _media_files(tdir / "fake"):
            rel = p.relative_to(tdir / "fake").parts
            driver = rel[0] if len(rel) > 1 else ""
            media.append(Media(p, True, "reenactment", target, driver))
    if not media:
        raise UserError(f"{root}: no <target>/real or <target>/fake media found")
    return media, skipped


def fom_media(root: Path) -> tuple[list[Media], list[tuple[str, str]]]:
    _require(root, "source", "generated")
    media = []
    for p in _media_files(root / "source"):
        rel = p.relative_to(root / "source").parts
        target = rel[0] if len(rel) > 1 else p.stem
        media.append(Media(p, False, "real", target))
    for p in _media_files(root / "generated"):
        rel = p.relative_to(root / "generated").parts
        if len(rel) < 2:
            media.append(Media(p, True, "reenactment", p.stem))  # generated/<target>.mp4
            continue
        driver = rel[1] if len(rel) > 2 else Path(rel[1]).stem
        media.append(Media(p, True, "reenactment", rel[0], driver))
    return media, []


def blend_media(root: Path, *, sep: str = "__") -> tuple[list[Media], list[tuple[str, str]]]:
    _require(root, "real", "blend")
    media = [
        Media(p, False, "real", p.relative_to(root / "real").parts[0])
        for p in _media_files(root / "real")
        if len(p.relative_to(root / "real").parts) > 1
    ]
    skipped = []
    for p in _media_files(root / "blend"):
        rel = p.relative_to(root / "blend").parts
        name = rel[0] if len(rel) > 1 else p.stem
        parts = name.split(sep)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            skipped.append((p.relative_to(root).as_posix(), f"name is not <a>{sep}<b>"))
            continue
        media.append(Media(p, True, "synthesis", parts[0], parts[1]))
    return media, skipped


def generic_media(
    root: Path, *, method: str = "replacement"
) -> tuple[list[Media], list[tuple[str, str]]]:
    _require(root, "real", "fake")
    if method not in ("replacement", "reenactment", "synthesis"):
        raise UserError(f"unknown method {method!r}", hint="replacement, reenactment or synthesis")
    media, skipped = [], []
    for p in _media_files(root / "real"):
        rel = p.relative_to(root / "real").parts
        if len(rel) < 2:
            skipped.append((p.relative_to(root).as_posix(), "not inside real/<identity>/"))
            continue
        media.append(Media(p, False, "real", rel[0]))
    for p in _media_files(root / "fake"):
        rel = p.relative_to(root / "fake").parts
        if len(rel) < 2:
            skipped.append((p.relative_to(root).as_posix(), "not inside fake/<target>/"))
            continue
        if method == "synthesis" and len(rel) < 3:
            skipped.append((p.relative_to(root).as_posix(),
                            "a synthesis fake needs its second source: fake/<target>/<reference>/"))
            continue
        media.append(Media(p, True, method, rel[0], rel[1] if len(rel) > 2 else ""))
    return media, skipped


@dataclass(frozen=True)
class Layout:
    discover: Callable[..., tuple[list[Media], list[tuple[str, str]]]]
    dataset: str  # default dataset name (the paper's)


LAYOUTS: dict[str, Layout] = {
    "celebdf": Layout(celebdf_media, "CelebDF"),
    "voxceleb-th": Layout(voxceleb_th_media, "VoxCelebTH"),
    "fom": Layout(fom_media, "CelebFOM"),
    "blend": Layout(blend_media, "CelebBlend"),
    "generic": Layout(generic_media, "custom"),
}


# ---- media -> manifest rows ----------------------------------------------------------


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def materialize(
    media: Iterable[Media],
    *,
    root: Path,
    out_dir: Path,
    dataset: str,
    frames_per_video: int = 1,
    seed: int = 0,
    crop: bool = False,
    recognizer=None,
    on_item: Callable[[Media], None] | None = None,
) -> BuildResult:
    """Rows for the media: frames for videos, crops if asked, fakes paired with reals."""
    out_dir = Path(out_dir)
    rows: list[ManifestRow] = []
    skipped: list[tuple[str, str]] = []
    if crop and recognizer is None:
        from dicore.datasets.face_detector import face_detector

        recognizer = face_detector()
    for m in media:
        rel = m.path.relative_to(root).as_posix() if m.path.is_relative_to(root) else m.path.name
        stem = rel.rsplit(".", 1)[0]
        base: dict[str, Any] = dict(
            is_fake=m.is_fake, dataset=dataset, method=m.method, target=m.target,
            reference=m.reference,
        )
        try:
            if m.path.suffix.lower() in VIDEO_SUFFIXES:
                frames = sample_frames(m.path, frames_per_video, seed=seed, key=rel)
                for idx, img in frames:
                    if crop:
                        img = crop_face(img, recognizer=recognizer)
                    dest = out_dir / "frames" / _safe(dataset) / f"{stem}" / f"f{idx:06d}.jpg"
                    write_jpeg(dest, img)
                    rows.append(
                        ManifestRow(
                            item_id=f"{dataset}/{stem}/f{idx:06d}",
                            path=os.path.relpath(dest, out_dir),
                            source_video=rel, frame_index=idx, **base,
                        )
                    )
            else:
                path = m.path
                if crop:
                    import cv2

                    img = cv2.imread(str(m.path))
                    if img is None:
                        raise FrameError(f"cannot read image {m.path}")
                    path = out_dir / "crops" / _safe(dataset) / f"{stem}.jpg"
                    write_jpeg(path, crop_face(img, recognizer=recognizer))
                rows.append(
                    ManifestRow(
                        item_id=f"{dataset}/{stem}",
                        path=os.path.relpath(path.resolve(), out_dir.resolve()),
                        **base,
                    )
                )
        except FrameError as exc:
            skipped.append((rel, str(exc)))
        except Exception as exc:  # recognizer errors (no face, too small): skip this media
            if type(exc).__module__.startswith("simulators"):
                skipped.append((rel, str(exc)))
            else:
                raise
        if on_item:
            on_item(m)
    return _pair(rows, skipped)


def _pair(rows: list[ManifestRow], skipped: list[tuple[str, str]]) -> BuildResult:
    first_real: dict[tuple[str, str], str] = {}
    for r in sorted((r for r in rows if not r.is_fake), key=lambda r: r.item_id):
        first_real.setdefault((r.dataset, r.target), r.item_id)
    paired = []
    for r in rows:
        if r.is_fake:
            real = first_real.get((r.dataset, r.target))
            if real is None:
                skipped.append((r.path, f"fake of {r.target!r} has no real image of {r.target!r}"))
                continue
            r = ManifestRow(**{**r.as_record(), "real_item_id": real})
        paired.append(r)
    return BuildResult(rows=paired, skipped=skipped)


def build_manifest(
    layout: str,
    root: str | os.PathLike,
    out: str | os.PathLike,
    *,
    dataset: str | None = None,
    frames_per_video: int = 1,
    seed: int = 0,
    crop: bool = False,
    recognizer=None,
    on_item: Callable[[Media], None] | None = None,
    on_discovered: Callable[[int], None] | None = None,
    **options,
) -> BuildResult:
    """Discover `root` with `layout`, materialize, and write the manifest file `out`.

    Frames and crops go next to the manifest; manifest paths are relative to it.
    """
    if layout not in LAYOUTS:
        raise UserError(f"unknown layout {layout!r}", hint=f"one of {', '.join(LAYOUTS)}")
    if frames_per_video < 1:
        raise UserError("frames per video must be at least 1")
    spec = LAYOUTS[layout]
    root, out = Path(root), Path(out)
    media, skipped = spec.discover(root, **options)
    if on_discovered:
        on_discovered(len(media))
    result = materialize(
        media, root=root, out_dir=out.parent, dataset=dataset or spec.dataset,
        frames_per_video=frames_per_video, seed=seed, crop=crop, recognizer=recognizer,
        on_item=on_item,
    )
    result.skipped[:0] = skipped
    if not result.rows:
        raise UserError(
            f"{root}: no usable media for layout {layout!r} ({len(result.skipped)} skipped)",
            hint="see the layouts in docs/study.md",
        )
    result.manifest = write_manifest(out, result.rows)
    return result
