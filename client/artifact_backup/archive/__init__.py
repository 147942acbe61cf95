# ruff: noqa: F401  (the TYPE_CHECKING imports exist for type checkers; names load lazily)
"""Reading the archive: runs, their files, downloads, restores from Glacier, pins and cost.

Library use, s3transfer-style (a client passed in, a config object with defaults, progress through
subscribers)::

    from artifact_backup import load_config, make_s3_client
    from artifact_backup.archive import ArchiveReader

    settings = load_config("config.yaml")
    reader = ArchiveReader(make_s3_client(settings), settings.require_archive_bucket())
    for run in reader.runs("RMI25320").runs:
        print(run.label, run.types, run.record.bytes, run.storage, run.pinned)
    reader.download("RMI25320", "20251030_1430", "./restored", include=["logs"])
    reader.pin("RMI25320", "20251030_1430", note="Final production run - DO NOT DELETE")

Every answer starts from the run records the filer writes last (``{project}/_runs/``), so a run is
seen complete or not at all. Names are imported on first use: ``config.py`` reads the price table
from here without loading the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ArchiveReader": "reader",
    "ALL_RUNS": "reader",
    "ReadConfig": "config",
    "Prices": "prices",
    "RunSummary": "summary",
    "RunListing": "summary",
    "PinNote": "pin_note",
    "LATEST": "runs",
    "DownloadResult": "download",
    "RestoreResult": "restore",
    "RunDiff": "diff",
    "PinResult": "pin",
    "CostReport": "cost",
    "CostObject": "cost",
    "estimate": "cost",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'artifact_backup.archive' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from .config import ReadConfig
    from .cost import CostObject, CostReport, estimate
    from .diff import RunDiff
    from .download import DownloadResult
    from .pin import PinResult
    from .pin_note import PinNote
    from .prices import Prices
    from .reader import ALL_RUNS, ArchiveReader
    from .restore import RestoreResult
    from .runs import LATEST
    from .summary import RunListing, RunSummary
