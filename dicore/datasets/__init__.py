"""Image manifests and the builders that make them from dataset layouts on disk.

Build one from the command line: `dicore manifest --help`.
"""

from dicore.datasets.builders import LAYOUTS, BuildResult, build_manifest
from dicore.datasets.manifest import (
    COLUMNS,
    Manifest,
    ManifestError,
    ManifestRow,
    read_manifest,
    write_manifest,
)

__all__ = [
    "COLUMNS",
    "LAYOUTS",
    "BuildResult",
    "Manifest",
    "ManifestError",
    "ManifestRow",
    "build_manifest",
    "read_manifest",
    "write_manifest",
]
