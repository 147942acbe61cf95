"""Resuming (docs/protocol.md, steps 4-5): an interrupted upload of the same files, run again, goes
on under the same run id, and what an earlier attempt already sent is not sent again.

Only a resumed run LISTs its staging prefix (once) to learn which pieces are already there; a fresh
run id cannot have any.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass
from typing import Any

from artifact_contract import format_timestamp, staging_run_prefix

from ..aws import translate_error
from ..collect import Selection
from ..journal import Journal, JournalEntry, fingerprint
from .types import StagingRun


@dataclass(frozen=True)
class Attempt:
    """This attempt of a run: its journal key and entry (run id, timestamp), and whether it goes on
    from an earlier, interrupted attempt of the same files."""

    key: str
    entry: JournalEntry
    resumed: bool


def start_attempt(
    journal: Journal,
    selection: Selection,
    *,
    staging_bucket: str,
    project_key: str,
    timestamp: tuple[str, str | None],
    max_age: float | None,
) -> Attempt:
    """The journal's entry for these very files when it has one (same fingerprint), else a new run
    id, saved before anything is sent. ``timestamp`` is :meth:`BackupRequest.timestamp_choice`'s."""
    mode, custom = timestamp
    key = Journal.key(
        staging_bucket=staging_bucket,
        project_key=project_key,
        folder=selection.folder,
        types=selection.types,
        folder_type=selection.folder_type,
        timestamp_mode=mode,
        timestamp_value=custom,
    )
    fp = fingerprint(selection.files)
    entry = journal.load(key, max_age=max_age)
    if entry is not None and entry.fingerprint == fp:
        return Attempt(key, entry, resumed=True)
    entry = JournalEntry(
        run_id=uuid.uuid4().hex,
        timestamp=format_timestamp() if mode == "now" else custom,
        fingerprint=fp,
        created=time.time(),
    )
    journal.save(key, entry)
    return Attempt(key, entry, resumed=False)


def mark_committed(journal: Journal, attempt: Attempt) -> None:
    """The run's manifest is in staging: a later attempt only waits for its receipt."""
    journal.save(attempt.key, dataclasses.replace(attempt.entry, committed=True))


def sent_before(client: Any, run: StagingRun) -> StagingRun:
    """``run`` with what its earlier attempts put in staging."""
    return dataclasses.replace(run, existing=list_run(client, run.bucket, run.project_key, run.run_id))


def list_run(client: Any, bucket: str, project_key: str, run_id: str) -> dict[str, int]:
    """Every object under the run's staging prefix with its size: one request per 1,000 keys."""
    prefix = staging_run_prefix(project_key, run_id)
    found: dict[str, int] = {}
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    while True:
        try:
            page = client.list_objects_v2(**kwargs)
        except Exception as exc:
            raise translate_error(exc, bucket=bucket, action="listing the staging prefix") from None
        for obj in page.get("Contents", []):
            found[obj["Key"]] = int(obj["Size"])
        if not page.get("IsTruncated"):
            return found
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
