"""Step 6 of docs/protocol.md's filer, the timestamp's claims, and step 4's repeats: a run uploaded
again unchanged under a new run id is answered as filed, pointing at the run that holds its files.

A timestamp is claimed one artifact type at a time (``_runs/{ts}/claims/{type}.json``), so uploads
of disjoint types join one run at a timestamp while a type is filed there by one upload only."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

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
    RecordInvalidError,
    RunRecord,
    archive_key,
    claim_key,
    content_sha256,
    legacy_run_record_key,
    run_record_key,
    type_claim_key,
)
from artifact_contract.s3 import body_of, is_missing, is_precondition_failed

from .context import FilingContext
from .exceptions import ArchiveChangedError, TimestampBusyError, TimestampTakenError
from .finish import answer, receipt_pointing_at
from .intake import read_record
from .plumbing import Futures, head
from .stale import HeldClaim, may_take_over, refused
from .storage import JSON_TYPE


def claim(ctx: FilingContext, manifest: Manifest) -> tuple[RunRecord, str] | None:
    """Take each of the run's artifact types at its timestamp, in name order; a type another run
    holds refuses this run (after it gives back the types it took), unless that run holds the very
    same files: then its record is returned, and this run is a repeat.

    Types are taken in one order by every run, so of two runs at once sharing a type one always
    gets all its types, and two runs with disjoint types both do.
    """
    assert manifest.timestamp is not None
    mine = Claim.for_manifest(manifest)
    legacy = _legacy_holder(ctx, manifest)
    for type_name in mine.types:
        holder = legacy if legacy is not None and _covers(legacy, type_name) else None
        if holder is None:
            holder = _claim_type(ctx, manifest, type_name, mine)
        if holder is not None:
            release(ctx, manifest)
            return _held(ctx, manifest, mine, holder, type_name)
    return None


def _claim_type(ctx: FilingContext, manifest: Manifest, type_name: str, mine: Claim) -> Claim | None:
    """Claim one type (``IfNoneMatch='*'``), or take a refused or stale holder's claim over
    (``IfMatch`` on the claim read, so of two runs taking it over at once one wins); the holder
    when it keeps the type."""
    assert manifest.timestamp is not None
    key = type_claim_key(manifest.project_key, manifest.timestamp, type_name)
    for _ in range(_CLAIM_TRIES):
        if _put_claim(ctx, key, mine, IfNoneMatch="*"):
            return None
        found = _read_claim(ctx, key)
        if found is None:
            continue  # gone in between: claim it afresh
        holder, etag = found.claim, found.etag
        if holder is None:  # unreadable: nobody may be sure whose it is
            return Claim("unknown", manifest.project_key, manifest.timestamp, "")
        if holder.run_id == manifest.run_id and not holder.released:
            return None  # taken by an earlier attempt of this run
        if holder.run_id != manifest.run_id and not may_take_over(ctx, found, manifest.timestamp):
            return holder
        ours = replace(mine, replaces=None if holder.run_id == manifest.run_id else holder.run_id)
        if _put_claim(ctx, key, ours, IfMatch=etag):
            ctx.log.info("claim taken over", extra={**ctx.identity(), "type": type_name,
                                                     "from_run_id": holder.run_id})
            return None
    raise ArchiveChangedError(f"claim {key} kept changing while run {manifest.run_id} claimed it")


#: How often a run tries to claim one type while other runs claim and release it at once.
_CLAIM_TRIES = 5


def _put_claim(ctx: FilingContext, key: str, claim_doc: Claim, **condition: str) -> bool:
    """Write a claim on a condition; False when the condition failed."""
    try:
        ctx.client.put_object(Bucket=ctx.archive_bucket, Key=key, Body=claim_doc.to_json(),
                              ContentType=JSON_TYPE, **condition)
        return True
    except Exception as exc:
        if is_precondition_failed(exc) or (condition.get("IfMatch") and is_missing(exc)):
            return False
        raise


def _read_claim(ctx: FilingContext, key: str) -> HeldClaim | None:
    """The claim at ``key`` (its claim None when unreadable); None when there is none."""
    try:
        response = ctx.client.get_object(Bucket=ctx.archive_bucket, Key=key)
    except Exception as exc:
        if is_missing(exc):
            return None
        raise
    with body_of(response) as body:
        raw = body.read(_MAX_CLAIM_BYTES + 1)
    try:
        found: Claim | None = Claim.from_json(raw)
    except RecordInvalidError:
        found = None
    return HeldClaim(found, response["ETag"], response["LastModified"])


_MAX_CLAIM_BYTES = 64 * 1024


def release(ctx: FilingContext, manifest: Manifest) -> None:
    """Give back the types this run holds at its timestamp (it is refused): each claim naming it is
    marked released, on the condition that it is still the claim read."""
    if manifest.timestamp is None:
        return
    for type_name in sorted(manifest.types):
        key = type_claim_key(manifest.project_key, manifest.timestamp, type_name)
        found = _read_claim(ctx, key)
        held = found.claim if found is not None else None
        if found is not None and held is not None and held.run_id == manifest.run_id and not held.released:
            _put_claim(ctx, key, replace(held, released=True), IfMatch=found.etag)
    ctx.step("released")


def still_holds(ctx: FilingContext, manifest: Manifest) -> None:
    """Before the record: every type's claim must still be this run's. A run refused by another
    delivery while this one filed, or taken over as stale, must not appear as filed."""
    assert manifest.timestamp is not None
    for type_name in sorted(manifest.types):
        found = _read_claim(ctx, type_claim_key(manifest.project_key, manifest.timestamp, type_name))
        held = found.claim if found is not None else None
        if held is None or held.run_id != manifest.run_id or held.released:
            raise TimestampTakenError(
                f"run {manifest.run_id} no longer holds {type_name} at timestamp {manifest.timestamp} "
                "(it was refused or given up while it was being filed): upload it again"
            )


def _legacy_holder(ctx: FilingContext, manifest: Manifest) -> Claim | None:
    """An older filer's whole-timestamp claim held by another run, with the types it holds: its
    record's, or every type while it has none. None when there is none, or it no longer holds."""
    assert manifest.timestamp is not None
    found = _read_claim(ctx, claim_key(manifest.project_key, manifest.timestamp))
    if found is None:
        return None
    holder = found.claim or Claim("unknown", manifest.project_key, manifest.timestamp, "")
    if holder.run_id == manifest.run_id:
        return None
    record = read_record(ctx, legacy_run_record_key(manifest.project_key, manifest.timestamp))
    if record is not None and record.run_id == holder.run_id:
        return replace(holder, types=tuple(sorted({f.type for f in record.files})))
    if found.claim is not None and may_take_over(ctx, found, manifest.timestamp):
        return None
    return replace(holder, types=())  # every type: what it would file is unknown


def _covers(holder: Claim, type_name: str) -> bool:
    return not holder.types or type_name in holder.types


def _held(
    ctx: FilingContext, manifest: Manifest, mine: Claim, holder: Claim, type_name: str
) -> tuple[RunRecord, str] | None:
    """``holder`` keeps ``type_name``: this run is a repeat of it, waits for it, or is refused."""
    assert manifest.timestamp is not None
    if holder.content_sha256 is not None and holder.content_sha256 == mine.content_sha256:
        earlier = _record_of(ctx, manifest.project_key, manifest.timestamp, holder.run_id)
        if earlier is not None:
            return earlier
        if not refused(ctx, manifest.project_key, holder.run_id):
            raise TimestampBusyError(
                f"timestamp {manifest.timestamp} of project {manifest.project_key} is claimed by run "
                f"{holder.run_id}, which holds the same files and is still being filed"
            )
    raise TimestampTakenError(
        f"timestamp {manifest.timestamp} of project {manifest.project_key} already holds "
        f"{type_name}, filed by run {holder.run_id}: upload {type_name} again with another "
        "timestamp; artifact types not yet at this timestamp can join it"
    )


def _record_of(ctx: FilingContext, project_key: str, timestamp: str, run_id: str
               ) -> tuple[RunRecord, str] | None:
    """``run_id``'s record at ``timestamp`` and its key: its own, or an older filer's one record."""
    own = run_record_key(project_key, timestamp, run_id)
    for key in (own, legacy_run_record_key(project_key, timestamp)):
        record = read_record(ctx, key)
        if record is not None and record.run_id == run_id:
            return record, key
    return None


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
        return _identical_at_timestamp(ctx, manifest)
    return _identical_untimestamped(ctx, manifest)


def _identical_at_timestamp(ctx: FilingContext, manifest: Manifest) -> tuple[RunRecord, str] | None:
    """The run at this run's timestamp holding its first type, when it holds exactly its files."""
    assert manifest.timestamp is not None
    first = min(manifest.types)
    found = _read_claim(ctx, type_claim_key(manifest.project_key, manifest.timestamp, first))
    holder = found.claim if found is not None else None
    candidates = [] if holder is None or holder.released else [holder.run_id]
    legacy = read_record(ctx, legacy_run_record_key(manifest.project_key, manifest.timestamp))
    if legacy is not None:
        candidates.append(legacy.run_id)
    for run_id in candidates:
        if run_id == manifest.run_id:
            continue
        earlier = _record_of(ctx, manifest.project_key, manifest.timestamp, run_id)
        if earlier is not None and _same_files(manifest, earlier[0]):
            return earlier
    return None


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
