"""`python -m benchmarks [--quick] [--gpu] [names...]`: see benchmarks/README.md."""

import sys

from benchmarks.harness import main

sys.exit(main())
