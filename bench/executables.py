"""Finding a tool's real executable: next to our interpreter, never a version-manager shim.

Shims (pyenv's, for instance) start a shell and another interpreter before the tool, which would
charge the tool for start-up work that is not its own.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def executable(name: str) -> str:
    """The executable ``name`` installed beside this interpreter (a wheel's console script or
    binary), else the one on PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed: pip install 'artifact-backup[bench]'")
    return found
