# ruff: noqa: F401  (the TYPE_CHECKING imports exist for type checkers; names load lazily)
"""artifact-backup: back up every processing run's artifacts to S3 in a timestamped layout.

Library use::

    from artifact_backup import load_config, backup_run, upload_after_workflow

    settings = load_config("config.yaml")
    result = backup_run("D:/Process360_Data/projects/RMI25320", settings=settings,
                        project_key="RMI25320", include=["logs"], timestamp=True)
    print(result.archive_urls())

    # at the end of the orchestrator:
    upload_after_workflow("config.yaml", project_folder, workflow_succeeded=ok)

``collect_files`` is :func:`artifact_backup.collect.collect` (the module keeps the short name).
Names are imported on first use, so ``import artifact_backup`` (and the CLI's ``--help``) stays fast
and boto3 is loaded only when S3 is actually used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

_EXPORTS = {
    # configuration
    "Settings": "config",
    "load_config": "config",
    "settings_from_mapping": "config",
    # collection
    "LocalFile": "collect",
    "DroppedFile": "collect",
    "Selection": "collect",
    "collect_files": "collect:collect",
    "resolve_types": "collect",
    # packing and tuning
    "PiecePlan": "pack",
    "plan_pieces": "pack",
    "write_pack": "pack",
    "hash_file": "pack",
    "UploadConfig": "transfer",
    "BaseSubscriber": "transfer",
    "KB": "transfer",
    "MB": "transfer",
    "GB": "transfer",
    # uploading
    "BackupRequest": "upload",
    "UploadResult": "upload",
    "Uploader": "upload",
    "backup_run": "upload",
    "upload_after_workflow": "workflow",
    "Journal": "journal",
    "NullJournal": "journal",
    "make_s3_client": "aws",
    # reading the archive
    "ArchiveReader": "archive.reader",
    "ReadConfig": "archive.config",
    "translate_error": "aws",
    # errors
    "ArtifactBackupError": "exceptions",
    "ArgumentInvalidError": "exceptions",
    "ConfigNotFoundError": "exceptions",
    "ConfigInvalidError": "exceptions",
    "ConfigKeyMissingError": "exceptions",
    "FolderNotFoundError": "exceptions",
    "FileUnreadableError": "exceptions",
    "FileNameInvalidError": "exceptions",
    "FileChangedError": "exceptions",
    "SelectionEmptyError": "exceptions",
    "UploadFailedError": "exceptions",
    "CredentialsMissingError": "exceptions",
    "CredentialsExpiredError": "exceptions",
    "AccessDeniedError": "exceptions",
    "BucketNotFoundError": "exceptions",
    "EndpointUnreachableError": "exceptions",
    "ReceiptUnreadableError": "exceptions",
    "RunRefusedError": "exceptions",
    "ReceiptTimeoutError": "exceptions",
    "LocalStackError": "exceptions",
    "ArchiveReadError": "exceptions",
    "RunNotFoundError": "exceptions",
    "ChecksumMismatchError": "exceptions",
    "RestoreRequiredError": "exceptions",
    "DestinationNameError": "exceptions",
    "DestinationWriteError": "exceptions",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'artifact_backup' has no attribute {name!r}")
    module, _, attribute = module.partition(":")
    value = getattr(importlib.import_module(f".{module}", __name__), attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from .archive.config import ReadConfig
    from .archive.reader import ArchiveReader
    from .aws import make_s3_client, translate_error
    from .collect import DroppedFile, LocalFile, Selection, resolve_types
    from .collect import collect as collect_files
    from .config import Settings, load_config, settings_from_mapping
    from .exceptions import (
        AccessDeniedError,
        ArchiveReadError,
        ArgumentInvalidError,
        ArtifactBackupError,
        BucketNotFoundError,
        ChecksumMismatchError,
        ConfigInvalidError,
        ConfigKeyMissingError,
        ConfigNotFoundError,
        CredentialsExpiredError,
        CredentialsMissingError,
        DestinationNameError,
        DestinationWriteError,
        EndpointUnreachableError,
        FileChangedError,
        FileNameInvalidError,
        FileUnreadableError,
        FolderNotFoundError,
        LocalStackError,
        ReceiptTimeoutError,
        ReceiptUnreadableError,
        RestoreRequiredError,
        RunNotFoundError,
        RunRefusedError,
        SelectionEmptyError,
        UploadFailedError,
    )
    from .journal import Journal, NullJournal
    from .pack import PiecePlan, hash_file, plan_pieces, write_pack
    from .transfer import GB, KB, MB, BaseSubscriber, UploadConfig
    from .upload import BackupRequest, Uploader, UploadResult, backup_run
    from .workflow import upload_after_workflow
