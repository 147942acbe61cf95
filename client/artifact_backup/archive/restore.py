"""Asking S3 to bring a run's archived files back for reading.

After the lifecycle transition (90 days by default) artifacts sit in Glacier Flexible Retrieval (or
Deep Archive), where a GET fails until a restore has finished. A restore makes a temporary readable
copy for ``days`` days; the ``tier`` trades speed for price (Expedited: minutes, Standard: hours,
Bulk: the cheapest, up to half a day). Asking again while one runs is harmless, so the command can be
repeated to see how far it got.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from artifact_contract import RecordedFile
from artifact_contract.s3 import error_code, is_aws_error

from ..exceptions import ArchiveReadError, ArgumentInvalidError
from ._s3 import head, parallel_map, read_error
from .config import ReadConfig
from .download import restore_state
from .prices import ARCHIVE_CLASSES
from .runs import select_files
from .summary import MISSING, RunSummary

TIERS = ("Standard", "Bulk", "Expedited")
#: How long each tier usually takes, as S3 documents it for Glacier Flexible Retrieval / Deep Archive.
TIER_TIMES = {
    "Expedited": "1-5 minutes (not available for Deep Archive)",
    "Standard": "3-5 hours (12 hours from Deep Archive)",
    "Bulk": "5-12 hours (48 hours from Deep Archive)",
}
STATUSES = ("started", "in-progress", "restored", "not-archived", "missing", "failed")


@dataclass
class RestoreOutcome:
    run: str
    file: RecordedFile
    storage_class: str | None
    status: str = "pending"
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "file": f"{self.file.type}/{self.file.path}", "key": self.file.key,
                "size": self.file.size, "storage_class": self.storage_class, "status": self.status,
                "message": self.message}


@dataclass
class RestoreResult:
    project_key: str
    run: str
    tier: str
    days: int
    files: list[RestoreOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def ready(self) -> bool:
        """Every chosen file can be downloaded now."""
        return all(f.status in ("restored", "not-archived") for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {"project_key": self.project_key, "run": self.run, "tier": self.tier, "days": self.days,
                "expected_time": TIER_TIMES[self.tier], "ready": self.ready,
                "counts": {s: self.count(s) for s in STATUSES},
                "files": [f.to_dict() for f in self.files]}


def check_request(tier: str, days: int) -> None:
    if tier not in TIERS:
        raise ArgumentInvalidError(f"--tier must be one of {', '.join(TIERS)}, not {tier!r}")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ArgumentInvalidError(f"--days must be a whole number of days, at least 1, not {days!r}")


def restore(
    client: Any,
    bucket: str,
    runs: Sequence[RunSummary],
    *,
    run_argument: str,
    include: Iterable[str] | None = None,
    files: Iterable[str] | None = None,
    tier: str = "Standard",
    days: int | None = None,
    config: ReadConfig | None = None,
) -> RestoreResult:
    """Start a restore of every archived file chosen from ``runs`` (storage already surveyed)."""
    config = config or ReadConfig()
    days = config.restore_days if days is None else days
    check_request(tier, days)
    project_key = runs[0].record.project_key if runs else ""
    result = RestoreResult(project_key, run_argument, tier, days)
    for summary in runs:
        for file in select_files(summary.record, include=include, files=files):
            result.files.append(RestoreOutcome(summary.label, file, summary.storage_class_of(file)))

    def one(outcome: RestoreOutcome) -> None:
        if outcome.storage_class == MISSING:
            outcome.status = "missing"
            return
        if outcome.storage_class not in ARCHIVE_CLASSES:
            outcome.status = "not-archived"
            return
        if tier == "Expedited" and outcome.storage_class == "DEEP_ARCHIVE":
            outcome.status, outcome.message = "failed", "Deep Archive has no Expedited tier: use Standard"
            return
        state = restore_state(head(client, bucket, outcome.file.key, version_id=outcome.file.version_id))
        if state != "none":
            outcome.status = state
            return
        try:
            client.restore_object(
                Bucket=bucket, Key=outcome.file.key, **outcome.file.version_args(),
                RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": tier}},
            )
            outcome.status = "started"
        except Exception as exc:
            code = error_code(exc)
            if code == "RestoreAlreadyInProgress":
                outcome.status = "in-progress"
            elif code == "InvalidObjectState":  # not archived (any more)
                outcome.status = "not-archived"
            elif code in ("GlacierExpeditedRetrievalNotAvailable", "InsufficientCapacity"):
                outcome.status, outcome.message = "failed", f"{code}: retry, or use --tier Standard"
            elif is_aws_error(exc):
                raise read_error(exc, bucket=bucket, action=f"restoring {outcome.file.key}") from None
            else:
                raise

    parallel_map(one, result.files, config.max_concurrency)
    failed = [f for f in result.files if f.status == "failed"]
    if failed:
        error = ArchiveReadError(
            f"{len(failed)} restore(s) could not be started, e.g. {failed[0].file.key}: {failed[0].message}",
            code="restore-failed",
        )
        error.result = result  # type: ignore[attr-defined]
        raise error
    return result
