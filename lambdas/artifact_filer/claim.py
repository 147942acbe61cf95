"""Step 6 of docs/protocol.md's filer, the timestamp claim, and step 4's repeats: a run uploaded again
unchanged under a new run id is answered as filed, pointing at the run that holds its files."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from artifact_contract import (
    META_RUN_ID,
    META_SHA256,
    RECEIPT_ALREADY_FILED,
    RECEIPT_FILED_RUN_ID,
    Claim,
    ContractError,
    FileEntry,
    Manifest,
    Receipt,
    ReceiptInvalidError,
    RecordInvalidError,
    RunRecord,
    archive_key,
    claim_key,
    content_sha256,
    receipt_key,
    run_record_key,
)
from artifact_contract.s3 import is_precondition_failed

from .context import FilingContext
from .exceptions import TimestampBusyError, TimestampTakenError
from .finish import answer, receipt_pointing_at
from .intake import read_record
from .plumbing import Futures, get_small, head
from .storage import JSON_TYPE


def claim(ctx: FilingContext, manifest: Manifest) -> tuple[RunRecord, str] | None:
    """Take the run's timestamp; a timestamp taken by another run refuses this one, unless that
    run holds the very same files: then its record is returned, and this run is a repeat."""
    assert manifest.timestamp is not None
    key = claim_key(manifest.project_key, manifest.timestamp)
    mine = Claim.for_manifest(manifest)
    try:
        ctx.client.put_object(
            Bucket=ctx.archive_bucket, Key=key, Body=mine.to_json(), ContentType=JSON_TYPE,
            IfNoneMatch="*",
        )
        return None
    except Exception as exc:
        if not is_precondition_failed(exc):
            raise
    raw = get_small(ctx, ctx.archive_bucket, key)
    holder: Claim | None = None
    if raw is not None:
        try:
            holder = Claim.from_json(raw)
        except RecordInvalidError:
            holder = None
    if holder is not None and holder.run_id == manifest.run_id:
        return None
    if holder is not None and holder.content_sha256 == mine.content_sha256:
        record_key = run_record_key(manifest.project_key, manifest.timestamp, manifest.run_id)
        earlier = identical_filed(ctx, manifest, read_record(ctx, record_key), record_key)
        if earlier is not None:
            return earlier
        if not _refused(ctx, manifest.project_key, holder.run_id):
            raise TimestampBusyError(
                f"timestamp {manifest.timestamp} of project {manifest.project_key} is claimed by run "
                f"{holder.run_id}, which holds the same files and is still being filed"
            )
    raise TimestampTakenError(
        f"timestamp {manifest.timestamp} of project {manifest.project_key} is already taken by "
        f"run {holder.run_id if holder else 'of an unreadable claim'}: upload again with another "
        "timestamp"
    )


def _refused(ctx: FilingContext, project_key: str, run_id: str) -> bool:
    raw = get_small(ctx, ctx.staging_bucket, receipt_key(project_key, run_id))
    try:
        return raw is not None and not Receipt.from_json(raw).filed
    except ReceiptInvalidError:
        return False


# -- a run uploaded again unchanged ---------------------------------------------------------------


def identical_filed(
    ctx: FilingContext, manifest: Manifest, record: RunRecord | None, record_key: str
) -> tuple[RunRecord, str] | None:
    """The record, and its key, of an earlier run holding exactly this run's files, if any.

    A timestamped run's files are never overwritten, so the record at its timestamp says what
    the archive holds there. An untimestamped run's keys may since have been overwritten: the
    run that wrote its first file is the candidate, and every key must still hold that run's
    copy of the file.
    """
    if manifest.timestamp is not None:
        if record is None or record.run_id == manifest.run_id:
            return None
        return (record, record_key) if _same_files(manifest, record) else None
    return _identical_untimestamped(ctx, manifest)


def _same_files(manifest: Manifest, record: RunRecord) -> bool:
    return len(record.files) == len(manifest.files) and (
        content_sha256(record.files) == content_sha256(manifest.files))


def _identical_untimestamped(ctx: FilingContext, manifest: Manifest) -> tuple[RunRecord, str] | None:
    first = manifest.files[0]
    found = head(ctx, ctx.archive_bucket, archive_key(manifest.project_key, first.type, None, first.path))
    earlier = (found or {}).get("Metadata", {}).get(META_RUN_ID)
    if not earlier or earlier == manifest.run_id:
        return None
    try:
        record_key = run_record_key(manifest.project_key, None, earlier)
    except ContractError:  # metadata someone else wrote
        return None
    record = read_record(ctx, record_key)
    if record is None or record.run_id != earlier or not _same_files(manifest, record):
        return None
    with ThreadPoolExecutor(ctx.workers(len(manifest.files)), "repeat") as pool:
        futures = Futures()
        for entry in manifest.files:
            futures.add(pool.submit(_holds, ctx, manifest, entry, earlier))
        holds = futures.wait()
    return (record, record_key) if all(holds) else None


def _holds(ctx: FilingContext, manifest: Manifest, entry: FileEntry, run_id: str) -> bool:
    """Whether the entry's archive key still holds ``run_id``'s copy of the entry's bytes."""
    found = head(ctx, ctx.archive_bucket, archive_key(manifest.project_key, entry.type, None, entry.path))
    if found is None:
        return False
    meta = found.get("Metadata", {})
    return (meta.get(META_RUN_ID) == run_id and meta.get(META_SHA256) == entry.sha256
            and int(found.get("ContentLength", -1)) == entry.size)


def answer_already_filed(
    ctx: FilingContext, manifest: Manifest, record: RunRecord, record_key: str
) -> Receipt:
    """Answer a repeat as filed, pointing at the earlier run: nothing is written to the archive,
    and staging is left clean, as after any filing."""
    receipt = receipt_pointing_at(
        ctx, manifest, record_key, prefixes=record.prefixes, files=len(record.files), size=record.bytes,
        extra={RECEIPT_ALREADY_FILED: True, RECEIPT_FILED_RUN_ID: record.run_id},
    )
    answer(ctx, receipt)
    ctx.log.info(
        "run already filed with the same files: nothing written",
        extra={**ctx.identity(), "filed_run_id": record.run_id, "timestamp": manifest.timestamp},
    )
    return receipt
