"""Errors of the artifact-backup client library.

Every error carries the message a user should read and the exit code a script can rely on; the CLI
has one boundary that maps them, and the library raises nothing else on purpose (AWS errors are
translated into :class:`UploadFailedError` subclasses where they happen).

Exit codes:

====  ==========================================================================================
0     success (also ``--dry-run``, and ``--no-wait`` once the run is committed)
1     any other error of the library
2     bad command line, bad config file, bad project key or timestamp
3     the embedded S3 server or the local filer could not run
4     nothing usable to upload: folder missing, file unreadable or badly named, empty selection
5     S3 could not be used: credentials, permissions, bucket, network ("Failed to upload ...")
6     the filer refused the run (its reason and code are reported)
7     the run is committed but its receipt did not arrive in time (re-run the same command)
8     the archive holds no such run (or no such file in it)
9     a downloaded file does not match the SHA-256 its run record lists (it is not kept), or
      ``verify`` found files missing, extra or different from their run records
10    files are in Glacier or Deep Archive: ``artifact-backup restore ...`` first, or wait for it
11    ``verify`` could not settle files by the checksums S3 keeps (records older than full-object
      checksums): ``artifact-backup verify --deep`` reads them
130   interrupted
====  ==========================================================================================
"""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_LOCAL = 3
EXIT_INPUT = 4
EXIT_S3 = 5
EXIT_REFUSED = 6
EXIT_TIMEOUT = 7
EXIT_NOT_FOUND = 8
EXIT_CORRUPT = 9
EXIT_RESTORE_NEEDED = 10
EXIT_DEEP_NEEDED = 11
EXIT_INTERRUPTED = 130

#: The user guide's checklist for "Failed to upload artifacts to S3".
S3_CHECKLIST = (
    "AWS credentials are configured",
    "IAM role/user has S3 write permissions",
    "Bucket exists and is accessible",
    "Network connectivity to AWS",
)


class ArtifactBackupError(Exception):
    """Base of every error the client library raises on purpose.

    ``str(error)`` is the one-line message; ``hint`` is how to fix it (may span lines); ``code`` is a
    stable short name for scripts reading ``--json`` output.
    """

    exit_code = EXIT_ERROR
    code = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "exit_code": self.exit_code,
        }


class LocalStackError(ArtifactBackupError):
    """The embedded S3 server or the local filer worker could not run."""

    exit_code = EXIT_LOCAL
    code = "local-stack"


# -- configuration and arguments (exit 2) -------------------------------------------------------


class ConfigNotFoundError(ArtifactBackupError):
    """The config file named by ``--config`` does not exist."""

    exit_code = EXIT_USAGE
    code = "config-not-found"


class ConfigInvalidError(ArtifactBackupError):
    """The config file cannot be read, or a key has a value of the wrong kind."""

    exit_code = EXIT_USAGE
    code = "config-invalid"

    def __init__(self, message: str, *, key: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.key = key


class ConfigKeyMissingError(ConfigInvalidError):
    """A key the upload cannot do without is absent (the guide's "Missing aws.s3_bucket_raw")."""

    code = "config-key-missing"


class ArgumentInvalidError(ArtifactBackupError):
    """An argument (project key, timestamp, artifact type, option value) breaks the contract."""

    exit_code = EXIT_USAGE
    code = "argument-invalid"


# -- local input (exit 4) -----------------------------------------------------------------------


class FolderNotFoundError(ArtifactBackupError):
    """The project folder (or ``--folder``) does not exist or is not a folder."""

    exit_code = EXIT_INPUT
    code = "folder-not-found"


class FileUnreadableError(ArtifactBackupError):
    """A selected file cannot be read."""

    exit_code = EXIT_INPUT
    code = "file-unreadable"


class FileNameInvalidError(ArtifactBackupError):
    """A selected file's name cannot become an S3 key (not UTF-8, control characters, too long)."""

    exit_code = EXIT_INPUT
    code = "file-name-invalid"


class FileChangedError(ArtifactBackupError):
    """A file shrank or was replaced while it was being uploaded."""

    exit_code = EXIT_INPUT
    code = "file-changed"


class DestinationNameError(ArtifactBackupError):
    """Files of a run cannot all be written under their names where a download would put them
    (names Windows refuses, or names that differ only in case on a case-insensitive folder).
    ``files`` lists ``{"file", "run", "problem", "safe_name"}``; nothing was written."""

    exit_code = EXIT_INPUT
    code = "destination-name-unsafe"

    def __init__(self, message: str, *, files: list[dict[str, Any]], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.files = files

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["files"] = self.files
        return data


class DestinationWriteError(ArtifactBackupError):
    """A downloaded file cannot be put in place: another program holds the file, or the folder
    cannot be written. Files already in place are kept."""

    exit_code = EXIT_INPUT
    code = "destination-unwritable"


class SelectionEmptyError(ArtifactBackupError):
    """No file of the chosen types was found: nothing to upload."""

    exit_code = EXIT_INPUT
    code = "nothing-to-upload"


# -- S3 (exit 5) --------------------------------------------------------------------------------


class UploadFailedError(ArtifactBackupError):
    """S3 could not be used. The message starts with the guide's "Failed to upload artifacts to S3"."""

    exit_code = EXIT_S3
    code = "upload-failed"
    PREFIX = "Failed to upload artifacts to S3"

    def __init__(self, cause: str, *, hint: str | None = None) -> None:
        checklist = "Check:\n" + "\n".join(f"  {i}. {item}" for i, item in enumerate(S3_CHECKLIST, 1))
        super().__init__(f"{self.PREFIX}: {cause}", hint=f"{hint}\n{checklist}" if hint else checklist)
        self.cause = cause


class CredentialsMissingError(UploadFailedError):
    code = "credentials-missing"


class CredentialsExpiredError(UploadFailedError):
    code = "credentials-expired"


class AccessDeniedError(UploadFailedError):
    code = "access-denied"


class BucketNotFoundError(UploadFailedError):
    code = "bucket-not-found"


class EndpointUnreachableError(UploadFailedError):
    code = "endpoint-unreachable"


class ReceiptUnreadableError(ArtifactBackupError):
    """The filer's receipt exists but cannot be read as one."""

    code = "receipt-unreadable"


# -- the filer's answer (exit 6, 7) -------------------------------------------------------------


class RunRefusedError(ArtifactBackupError):
    """The filer refused the run; ``receipt`` holds its reason and code."""

    exit_code = EXIT_REFUSED
    code = "run-refused"

    def __init__(self, message: str, *, receipt: Any, result: Any = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.receipt = receipt
        self.result = result
        self.refusal_code = getattr(receipt, "code", None)
        self.reason = getattr(receipt, "reason", None)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["refusal_code"] = self.refusal_code
        data["reason"] = self.reason
        if self.receipt is not None:
            data["receipt"] = self.receipt.to_dict()
        return data


class ReceiptTimeoutError(ArtifactBackupError):
    """The run is committed, but the filer's receipt did not arrive within the wait timeout."""

    exit_code = EXIT_TIMEOUT
    code = "receipt-timeout"

    def __init__(self, message: str, *, run_id: str, project_key: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.run_id = run_id
        self.project_key = project_key

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["run_id"] = self.run_id
        data["project_key"] = self.project_key
        return data


# -- reading the archive (exit 5, 8, 9, 10) -----------------------------------------------------

#: What to check when the archive cannot be read: the reader's counterpart of :data:`S3_CHECKLIST`.
READ_CHECKLIST = (
    "AWS credentials are configured",
    "IAM role/user has the artifact-backup reader policy",
    "aws.s3_bucket_raw names the archive bucket, in the configured region",
    "Network connectivity to AWS",
)


class ArchiveReadError(ArtifactBackupError):
    """S3 could not be used while reading the archive; ``code`` keeps the specific cause
    (``access-denied``, ``bucket-not-found``...) so scripts branch the same way as for uploads."""

    exit_code = EXIT_S3
    code = "archive-read-failed"

    def __init__(self, cause: str, *, code: str | None = None, hint: str | None = None) -> None:
        checklist = "Check:\n" + "\n".join(f"  {i}. {item}" for i, item in enumerate(READ_CHECKLIST, 1))
        super().__init__(f"Failed to read the archive: {cause}",
                         hint=f"{hint}\n{checklist}" if hint else checklist)
        self.cause = cause
        if code:
            self.code = code


class RunNotFoundError(ArtifactBackupError):
    """The archive has no run record for the run named (or the run lacks the file named)."""

    exit_code = EXIT_NOT_FOUND
    code = "run-not-found"


class ChecksumMismatchError(ArtifactBackupError):
    """Downloaded bytes differ from the run record's SHA-256: the archive copy is damaged or was
    replaced. ``files`` lists ``{"file", "expected", "actual"}``; none is left under its real name."""

    exit_code = EXIT_CORRUPT
    code = "checksum-mismatch"

    def __init__(self, message: str, *, files: list[dict[str, Any]], result: Any = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.files = files
        self.result = result

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["files"] = self.files
        return data


class RestoreRequiredError(ArtifactBackupError):
    """Files sit in Glacier or Deep Archive and must be restored before they can be read.

    ``command`` is the exact ``artifact-backup restore ...`` line to run; ``files`` lists
    ``{"file", "storage_class", "restore"}`` (``restore`` is ``"in-progress"`` once one was asked for).
    """

    exit_code = EXIT_RESTORE_NEEDED
    code = "restore-required"

    def __init__(self, message: str, *, command: str, files: list[dict[str, Any]], result: Any = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.command = command
        self.files = files
        self.result = result

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["command"] = self.command
        data["files"] = self.files
        return data


class VerifyFailedError(ArtifactBackupError):
    """``verify`` found the archive differing from its run records: files missing, extra or
    different, or a record that cannot be read. ``result`` is the whole report."""

    exit_code = EXIT_CORRUPT
    code = "verify-failed"

    def __init__(self, message: str, *, result: Any, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.result = result
