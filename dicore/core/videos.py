"""Video-level results from frame-level rows: a video counts as attacked when ANY of its
frames succeeds, or when the MAJORITY does (strictly more than half its frames), and its
mean confidence.

Pure and `jit`-able (`n_groups` and `n_videos` static). Rows carry a video id (0..V-1, -1
when the row has no video: it is left out) and a group id (0..G-1); a video is a (group,
video id) cell, so the same source video seen by two vendors is two videos.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax import Array
from jax.ops import segment_sum

RULES = ("any", "majority")


class VideoCounts(NamedTuple):
    """Per (group, video), shape (G, V): frames counted, frames that succeeded, and the
    mean confidence of the frames that have one (NaN when none has)."""

    frames: Array
    successes: Array
    mean_confidence: Array

    def attacked(self, rule: str) -> Array:
        """(G, V) bool: the video counts as attacked under `rule` ("any" or "majority")."""
        if rule == "any":
            return self.successes > 0
        if rule == "majority":
            return 2 * self.successes > self.frames
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")


def video_counts(
    success: Array,
    video: Array,
    group: Array,
    confidence: Array,
    *,
    n_groups: int,
    n_videos: int,
    include: Array | None = None,
) -> VideoCounts:
    """Frame outcomes (`success` (N,) bool) summed per (group, video); rows with video -1
    or `include` False are left out. `confidence` (N,) float, NaN when absent."""
    success = jnp.asarray(success, bool)
    video = jnp.asarray(video, jnp.int32)
    group = jnp.asarray(group, jnp.int32)
    keep = video >= 0
    if include is not None:
        keep = keep & jnp.asarray(include, bool)
    size = n_groups * n_videos
    # Rows left out go to segment `size`, which segment_sum drops.
    seg = jnp.where(keep, group * n_videos + video, size)
    conf = jnp.asarray(confidence, jnp.float64)
    has_conf = keep & ~jnp.isnan(conf)

    def total(x):
        return segment_sum(x, seg, num_segments=size).reshape(n_groups, n_videos)

    frames = total(keep.astype(jnp.int32))
    successes = total((keep & success).astype(jnp.int32))
    conf_sum = total(jnp.where(has_conf, conf, 0.0))
    conf_n = total(has_conf.astype(jnp.int32))
    mean = jnp.where(conf_n > 0, conf_sum / jnp.maximum(conf_n, 1), jnp.nan)
    return VideoCounts(frames, successes, mean)


def video_rates(counts: VideoCounts, rule: str) -> tuple[Array, Array]:
    """Per group, shape (G,) int32: (videos attacked under `rule`, videos with >= 1 frame)."""
    present = counts.frames > 0
    attacked = counts.attacked(rule) & present
    return jnp.sum(attacked, axis=1, dtype=jnp.int32), jnp.sum(present, axis=1, dtype=jnp.int32)
