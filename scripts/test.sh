#!/usr/bin/env bash
# Set up (into the active Python environment) and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -c constraints.txt -e '.[test]'
python -m pytest -q -p no:cacheprovider "$@"
