#!/usr/bin/env python3
"""The user guide's manual upload script: ``artifact-backup upload`` under its documented name.

    python scripts/upload_to_s3.py --config config.yaml \\
        --folder D:/Process360_Data/projects/RMI25320 --project-key RMI25320 \\
        --include logs --timestamp

Works with the package installed, and from a checkout without installing it (the repository's
``client/`` and ``contract/`` folders are put on the import path).
"""

from __future__ import annotations

import sys
from pathlib import Path


def _import_main():  # type: ignore[no-untyped-def]
    try:
        from artifact_backup.cli import main
    except ImportError:
        root = Path(__file__).resolve().parent.parent
        for folder in ("contract", "client"):
            sys.path.insert(0, str(root / folder))
        from artifact_backup.cli import main
    return main


if __name__ == "__main__":
    sys.exit(_import_main()(sys.argv[1:], prog="upload_to_s3.py", command="upload"))
