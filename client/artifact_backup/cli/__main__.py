"""``python -m artifact_backup.cli``: the same as the ``artifact-backup`` command."""

import sys

from . import main

sys.exit(main())
