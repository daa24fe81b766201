"""``python -m contracts``: the same as the ``hokusai-contract`` command."""

import sys

from contracts.cli import main

sys.exit(main())
