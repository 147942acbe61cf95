"""The filer: files each run whose manifest arrives in staging into the archive, or refuses it.

The filer itself (boto3 and the rest of its runtime) is imported on first use of its names, so
``artifact_filer.config`` can be imported with the standard library alone (the CDK app does).
"""

from typing import TYPE_CHECKING, Any

from .config import ENV_TUNING, FilerConfig, StepHook, filer_environment
from .exceptions import (
    ArchiveChangedError,
    ArchiveConflictError,
    FilerConfigError,
    FilerError,
    FilerRefusedError,
    FilerTransientError,
    FilingUnfinishedError,
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
    TimestampBusyError,
    TimestampTakenError,
)

if TYPE_CHECKING:
    from .filer import CONTINUATION_STEPS, REFUSAL_STEPS, STEPS, Filer

_FROM_FILER = frozenset({"CONTINUATION_STEPS", "REFUSAL_STEPS", "STEPS", "Filer"})


def __getattr__(name: str) -> Any:
    if name in _FROM_FILER:
        from . import filer

        return getattr(filer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CONTINUATION_STEPS",
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
    "FilingUnfinishedError",
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
    "TimestampBusyError",
    "TimestampTakenError",
    "filer_environment",
]
