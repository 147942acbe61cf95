"""The contract constants the infrastructure depends on, imported from the one source of truth.

The lifecycle rules and IAM policies must match the prefixes and tags the client and filer use; taking
them from ``artifact_contract`` means a change there changes the stack too. When the project is not
installed (``cdk synth`` straight from a checkout), the package is found in ``contract/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

try:
    import artifact_contract
except ImportError:  # pragma: no cover - depends on how the checkout was installed
    sys.path.insert(0, str(REPO_ROOT / "contract"))
    import artifact_contract

from artifact_contract.layout import PIN_NOTE_NAME, RUNS_FOLDER  # noqa: E402

INCOMING_PREFIX: str = artifact_contract.INCOMING_PREFIX
INDEX_PREFIX: str = artifact_contract.INDEX_PREFIX
RECEIPTS_PREFIX: str = artifact_contract.RECEIPTS_PREFIX
QUARANTINE_PREFIX: str = artifact_contract.QUARANTINE_PREFIX
MANIFEST_NAME: str = artifact_contract.MANIFEST_NAME
TAG_MANAGED: str = artifact_contract.TAG_MANAGED
TAG_MANAGED_VALUE: str = artifact_contract.TAG_MANAGED_VALUE
TAG_RETENTION: str = artifact_contract.TAG_RETENTION
RETENTION_STANDARD: str = artifact_contract.RETENTION_STANDARD
RETENTION_PINNED: str = artifact_contract.RETENTION_PINNED

__all__ = [
    "INCOMING_PREFIX",
    "INDEX_PREFIX",
    "MANIFEST_NAME",
    "PIN_NOTE_NAME",
    "QUARANTINE_PREFIX",
    "RECEIPTS_PREFIX",
    "REPO_ROOT",
    "RETENTION_PINNED",
    "RETENTION_STANDARD",
    "RUNS_FOLDER",
    "TAG_MANAGED",
    "TAG_MANAGED_VALUE",
    "TAG_RETENTION",
]
