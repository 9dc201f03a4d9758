"""`python -m dicore.datasets ...` is `dicore manifest ...`."""

import sys

from dicore.cli import main

sys.exit(main(["manifest", *sys.argv[1:]]))
