"""Step 7's keys that already hold an object: a timestamped key is written only where nothing is,
so a 412 means an earlier attempt of this run wrote it (confirmed from its metadata), or a run that
gave this type of the timestamp up left it there: refused or abandoned, with no record that will
ever name it. The run now holding the type replaces such a leftover, on the condition (``IfMatch``)
that it is still the object looked at; anything else refuses the run (``archive-conflict``).
"""

from __future__ import annotations

from typing import Any

from artifact_contract import META_RUN_ID, META_TIMESTAMP, FileEntry, Manifest, is_run_id
from artifact_contract.s3 import is_missing, is_precondition_failed

from .checksum import algorithm, crc_problem
from .context import FilingContext
from .exceptions import ArchiveChangedError, ArchiveConflictError
from .plumbing import head
from .stale import has_record
from .storage import same_run


def put_over_existing(ctx: FilingContext, manifest: Manifest, entry: FileEntry, put: dict[str, Any]) -> None:
    """A timestamped key already holds an object: this run's (nothing to do), or one left by a run
    that gave the type up, replaced on the condition that it is still that object."""
    leftover = confirm_existing(ctx, manifest, entry, put["Key"])
    if leftover is None:
        return
    again = {k: v for k, v in put.items() if k != "IfNoneMatch"}
    try:
        ctx.client.put_object(ChecksumAlgorithm=algorithm(entry), **again, IfMatch=leftover)
    except Exception as exc:
        if not (is_precondition_failed(exc) or is_missing(exc)):
            raise
        if confirm_existing(ctx, manifest, entry, put["Key"]) is not None:
            raise ArchiveChangedError(f"archive object {put['Key']} changed while it was replaced") from None


def confirm_existing(
    ctx: FilingContext, manifest: Manifest, entry: FileEntry, key: str, found: dict[str, Any] | None = None
) -> str | None:
    """A timestamped key already exists: None when an earlier attempt of this run wrote it; the
    object's ETag when a run that gave this type of the timestamp up left it there (this run, which
    holds the type now, replaces it on that ETag), or when this run's object does not hold the
    entry's CRC64NVME (``found`` must then come from a HEAD with ``checksums``); otherwise the run
    is refused."""
    found = found if found is not None else head(ctx, ctx.archive_bucket, key, checksums=True)
    if found is None:  # deleted in between: a human is tidying up; try again later
        raise ArchiveChangedError(f"archive object {key} vanished while being confirmed")
    meta = found.get("Metadata", {})
    if same_run(meta, manifest, entry):
        problem = crc_problem(entry, found)
        if problem is None:
            return None
        # This run's file, but not with the checksum its record will hold (an attempt by a filer
        # that predates the CRC64NVME, or an object altered since): replaced, never accepted.
        ctx.log.warning("replacing this run's file, whose checksum is not the manifest's",
                        extra={**ctx.identity(), "key": key, "problem": problem})
        return str(found["ETag"])
    if _left_over(ctx, manifest, meta):
        ctx.log.info("replacing a file left by a run that gave its timestamp up",
                     extra={**ctx.identity(), "key": key, "left_by": meta.get(META_RUN_ID)})
        return str(found["ETag"])
    raise ArchiveConflictError(
        f"archive key {key} already holds an object that run {manifest.run_id} did not write"
    )


def confirm_written(ctx: FilingContext, manifest: Manifest, entry: FileEntry, key: str) -> None:
    """After a conditional write: the key must hold this run's object now."""
    if confirm_existing(ctx, manifest, entry, key) is not None:
        raise ArchiveChangedError(f"archive object {key} changed while it was written")


def _left_over(ctx: FilingContext, manifest: Manifest, meta: dict[str, str]) -> bool:
    """Whether an object at this run's timestamp was written by another timestamped run that has no
    record there: refused or abandoned, its claim released or taken over by this run (which holds
    the type, or it would not be filing). No record will ever name it."""
    other = meta.get(META_RUN_ID, "")
    if manifest.timestamp is None:  # an untimestamped key is nobody's leftover
        return False
    if meta.get(META_TIMESTAMP) != manifest.timestamp or not is_run_id(other) or other == manifest.run_id:
        return False
    return not has_record(ctx, manifest.project_key, manifest.timestamp, other)
