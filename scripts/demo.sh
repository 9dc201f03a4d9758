#!/usr/bin/env bash
# Set up (into the active Python environment) and run the main job on its embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -c constraints.txt -e '.[all]'
dicore study "$@"
