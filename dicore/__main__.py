import sys

from dicore.cli import main

sys.exit(main())
