"""Errors of the filer.

Two families, because SQS treats them alike but people do not: a :class:`FilerRefusedError` means the
run itself is wrong and will never be filed (a refused receipt is written and the message ends in the
dead-letter queue); anything else, a botocore error included, is transient and the message is simply
delivered again.
"""

from __future__ import annotations

from artifact_contract import Receipt, RefusalCode

#: Characters of error text a receipt or a log line carries unless ``FILER_MAX_ERROR_CHARS`` says
#: otherwise (``FilerConfig.max_error_chars``).
DEFAULT_MAX_ERROR_CHARS = 1000


def bounded_text(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, saying how long it was when cut: reasons quote what
    a client sent, and a 30 MB path must not become a 30 MB receipt or log line. A text cut once is
    left as it is by a second cut to the same limit."""
    if len(text) <= limit:
        return text
    suffix = f"... ({len(text)} characters, cut)"
    return text[: max(0, limit - len(suffix))] + suffix


class FilerError(Exception):
    """Base of the filer's own errors."""


class FilerConfigError(FilerError):
    """The filer's environment is incomplete, so it cannot start."""


class FilerTransientError(FilerError):
    """Something outside the run went wrong; the message is delivered again."""


class StagingReadError(FilerTransientError):
    """Reading a staging object failed part-way (a dropped connection)."""


class StagingCleanError(FilerTransientError):
    """Staging objects could not be deleted."""


class TimestampBusyError(FilerTransientError):
    """The timestamp is claimed by a run holding the very same files that is not filed yet: this
    one is answered as already filed once that run's record exists, on a later delivery."""


class FilingUnfinishedError(FilerTransientError):
    """The invocation's time ran out with the run partly filed and no queue to continue on
    (``FILER_QUEUE_URL`` unset): the progress is saved and the message's next delivery goes on."""


class ArchiveChangedError(FilerTransientError):
    """An archive object changed while the filer was looking at it (someone is tidying up)."""


class FilerRefusedError(FilerError):
    """The run breaks the protocol and is refused; ``code`` is one of :class:`RefusalCode`."""

    code: str = RefusalCode.MANIFEST_INVALID
    #: What a refusal holds at most, whatever it quotes; receipts and log lines carry less
    #: (``FilerConfig.max_error_chars``).
    MAX_REASON = 64 * 1024

    def __init__(self, reason: str, code: str | None = None) -> None:
        reason = bounded_text(reason, self.MAX_REASON)
        super().__init__(reason)
        self.reason = reason
        if code is not None:
            self.code = code
        #: The refused receipt once it has been written.
        self.receipt: Receipt | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"


class ManifestRefusedError(FilerRefusedError):
    """The manifest cannot be trusted: invalid, or naming another run, project or archive."""

    code = RefusalCode.MANIFEST_INVALID


class PieceMissingError(FilerRefusedError):
    """A piece the manifest lists is absent from staging."""

    code = RefusalCode.PIECE_MISSING


class PieceCorruptError(FilerRefusedError):
    """A piece's bytes are not what the manifest declares, or a pack is unreadable."""

    code = RefusalCode.PIECE_CORRUPT


class PieceChangedError(FilerRefusedError):
    """A piece was replaced in staging between verification and filing."""

    code = RefusalCode.PIECE_CHANGED


class MemberRefusedError(FilerRefusedError):
    """A pack member is not a listed regular file with the declared size and content."""

    code = RefusalCode.MEMBER_UNLISTED


class PackBombError(FilerRefusedError):
    """A pack decompresses beyond what its declared files can account for."""

    code = RefusalCode.PACK_BOMB


class TimestampTakenError(FilerRefusedError):
    """Another run has claimed the timestamp."""

    code = RefusalCode.TIMESTAMP_TAKEN


class ArchiveConflictError(FilerRefusedError):
    """An archive key this run must write already holds another run's object."""

    code = RefusalCode.ARCHIVE_CONFLICT


class ArchiveUnversionedError(FilerRefusedError):
    """An untimestamped run would replace files in an archive bucket without versioning."""

    code = RefusalCode.ARCHIVE_UNVERSIONED


class ReuseUnavailableError(FilerRefusedError):
    """A file listed for reuse has no usable copy in the archive; the client must send it.

    ``shas`` are the checksums whose copies failed, so the filer can drop them from its reuse index
    and no later run offers them again.
    """

    code = RefusalCode.REUSE_UNAVAILABLE

    def __init__(self, reason: str, shas: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.shas = shas


class RunRefusedError(FilerRefusedError):
    """The run was refused on an earlier delivery; its receipt already says why."""

    @classmethod
    def from_receipt(cls, receipt: Receipt) -> RunRefusedError:
        error = cls(receipt.reason or "refused earlier", receipt.code or RefusalCode.MANIFEST_INVALID)
        error.receipt = receipt
        return error
