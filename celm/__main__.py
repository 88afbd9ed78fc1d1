"""``python -m celm``: see :mod:`celm.cli`."""

import sys

from celm.cli import main

sys.exit(main())
