"""The filer: files each run whose manifest arrives in staging into the archive, or refuses it."""

from .config import ENV_TUNING, FilerConfig, StepHook
from .exceptions import (
    ArchiveChangedError,
    ArchiveConflictError,
    FilerConfigError,
    FilerError,
    FilerRefusedError,
    FilerTransientError,
    ManifestRefusedError,
    MemberRefusedError,
    PackBombError,
    PieceChangedError,
    PieceCorruptError,
    PieceMissingError,
    ReuseUnavailableError,
    RunRefusedError,
    StagingCleanError,
    StagingReadError,
    TimestampTakenError,
)
from .filer import REFUSAL_STEPS, STEPS, Filer

__all__ = [
    "ENV_TUNING",
    "REFUSAL_STEPS",
    "STEPS",
    "ArchiveChangedError",
    "ArchiveConflictError",
    "Filer",
    "FilerConfig",
    "FilerConfigError",
    "FilerError",
    "FilerRefusedError",
    "FilerTransientError",
    "ManifestRefusedError",
    "MemberRefusedError",
    "PackBombError",
    "PieceChangedError",
    "PieceCorruptError",
    "PieceMissingError",
    "ReuseUnavailableError",
    "RunRefusedError",
    "StagingCleanError",
    "StagingReadError",
    "StepHook",
    "TimestampTakenError",
]
