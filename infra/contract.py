"""The contract constants the infrastructure depends on, imported from the one source of truth.

The lifecycle rules and IAM policies must match the prefixes and tags the client and filer use; taking
them from ``artifact_contract`` means a change there changes the stack too. Likewise the filer
function's environment is the one ``artifact_filer.config`` defines and the filer reads (that module
needs the standard library and the contract only, not the filer's runtime). When the project is not
installed (``cdk synth`` straight from a checkout), the packages are found in ``contract/`` and
``lambdas/``.
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

try:
    from artifact_filer.config import filer_environment
except ImportError:  # pragma: no cover - depends on how the checkout was installed
    sys.path.insert(0, str(REPO_ROOT / "lambdas"))
    from artifact_filer.config import filer_environment

INCOMING_PREFIX: str = artifact_contract.INCOMING_PREFIX
INDEX_PREFIX: str = artifact_contract.INDEX_PREFIX
RECEIPTS_PREFIX: str = artifact_contract.RECEIPTS_PREFIX
PROGRESS_PREFIX: str = artifact_contract.PROGRESS_PREFIX
PROJECT_TAG: str = artifact_contract.PROJECT_TAG
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
    "PROGRESS_PREFIX",
    "PROJECT_TAG",
    "QUARANTINE_PREFIX",
    "RECEIPTS_PREFIX",
    "REPO_ROOT",
    "RETENTION_PINNED",
    "RETENTION_STANDARD",
    "RUNS_FOLDER",
    "TAG_MANAGED",
    "TAG_MANAGED_VALUE",
    "TAG_RETENTION",
    "filer_environment",
]
