"""``python -m xl_ar``: the ``xl-ar`` command without its console script."""

import sys

from xl_ar.cli import console

sys.exit(console())
