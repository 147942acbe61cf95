"""``python -m artifact_backup``: the same as the ``artifact-backup`` command."""

import sys

from .cli import main

sys.exit(main())
