"""`per_video.csv`: one row per (dataset, vendor, source video of fakes).

Columns (`COLUMNS`): dataset, vendor, video, frames (fake frames of the video), ta_frames,
na_frames (frames that achieve TA / are named), ta_any, ta_majority, na_any, na_majority
(the video counts as attacked when any frame succeeds / strictly more than half its frames
do; True/False), mean_confidence (mean confidence of its named frames, percent; empty when
none was named). Written by the study and `dicore metrics --by video --per-video FILE`
(`dicore.breakdowns.video_tables`).
"""

from __future__ import annotations

from pathlib import Path

from dicore.formats.atomic import read_csv_rows, write_csv_rows

COLUMNS = ("dataset", "vendor", "video", "frames", "ta_frames", "na_frames", "ta_any",
           "ta_majority", "na_any", "na_majority", "mean_confidence")


def write_per_video_csv(path: str | Path, rows: list[dict]) -> Path:
    return write_csv_rows(path, rows, COLUMNS)


def read_per_video_csv(path: str | Path) -> list[dict]:
    return read_csv_rows(path, columns=COLUMNS, numbers=("mean_confidence",),
                         integers=("frames", "ta_frames", "na_frames"),
                         booleans=("ta_any", "ta_majority", "na_any", "na_majority"))
