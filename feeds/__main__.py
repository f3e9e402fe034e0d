"""`python -m feeds`: the same entry point as the `feeds` command."""

import sys

from feeds.cli import main

sys.exit(main())
