"""Benchmark of the artifact-backup client and filer against ``aws s3`` and ``s5cmd``.

Run ``python -m bench`` (full) or ``python -m bench --smoke`` (tiny sizes); see ``bench/README.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: The checkout's root; the sources live in three folders that an editable install would add.
REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = tuple(str(REPO_ROOT / name) for name in ("contract", "client", "lambdas"))

# Let ``python -m bench`` work from a plain checkout too, not only after ``pip install -e .``.
for _path in SOURCE_DIRS:
    if _path not in sys.path:
        sys.path.append(_path)
