"""Source videos for the synthetic cohort: which video each image is a frame of (SIMULATED).

The paper's images are frames of videos (Table 1 counts both). The cohort draws every
image independently, so these video ids only group frames for the video-level metrics; the
frames of one simulated video are not more alike than any two images of its target.

Rule: each real image is its own video (frame 0). A dataset's fakes of one target, in item
order, are cut into videos of `frames_per_video(dataset)` consecutive frames, that number
being round(fakes / videos) of Table 1 (at least 1; CelebBlend lists no videos: 1).
"""

from __future__ import annotations

import numpy as np

from dicore import paper


def frames_per_video(dataset: str) -> int:
    row = next((r for r in paper.table1() if r.dataset == dataset), None)
    if row is None or not row.videos:
        return 1
    return max(1, round(row.fake / row.videos))


def video_columns(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`source_video` and `frame_index` for results-contract columns of the cohort
    (`simulators.cohort.simulate_cohort_results`); same length as its rows."""
    n = len(cols["item_id"])
    video = np.empty(n, dtype=object)
    frame = np.zeros(n, np.int64)
    seen: dict[tuple[str, str], tuple[str, int]] = {}  # (dataset, item) -> (video, frame)
    counters: dict[tuple[str, str], int] = {}
    for i in range(n):
        key = (cols["dataset"][i], cols["item_id"][i])
        if key not in seen:  # the same item across vendors gets the same video
            dataset, item = key
            if not cols["is_fake"][i]:
                seen[key] = (f"{item}-video", 0)
            else:
                target = cols["target"][i]
                k = counters.get((dataset, target), 0)
                counters[(dataset, target)] = k + 1
                per = frames_per_video(dataset)
                seen[key] = (f"{dataset}-{target}-fakevideo{k // per:03d}", k % per)
        video[i], frame[i] = seen[key]
    return {"source_video": video, "frame_index": frame}
