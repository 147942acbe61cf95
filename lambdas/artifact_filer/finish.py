"""Steps 8 to 11 of docs/protocol.md's filer, once every file is filed: the run record, the reuse
index, staging cleaned, the filed receipt (the manifest is deleted after it)."""

from __future__ import annotations

import tempfile
from typing import Any

from artifact_contract import (
    MANIFEST_NAME,
    Manifest,
    Receipt,
    progress_key,
    receipt_key,
    run_record_head,
    staging_run_prefix,
    write_run_record,
)
from artifact_contract.record_writer import EtagLookup, VersionLookup
from artifact_contract.records import ReceiptStatus
from artifact_contract.s3 import is_precondition_failed, now_iso

from .context import FilingContext
from .exceptions import ArchiveConflictError
from .intake import read_record
from .plumbing import delete_staging, list_keys
from .reuse import indexed_files, update_index
from .storage import JSON_TYPE

#: Run records up to this size are written from memory, larger ones through /tmp.
_RECORD_SPOOL_BYTES = 1024 * 1024


def write_record(
    ctx: FilingContext, manifest: Manifest, key: str, versions: VersionLookup | None = None,
    etags: EtagLookup | None = None,
) -> None:
    """Write the run record, last of the run's archive objects: a reader sees a run only once it is
    complete. ``IfNoneMatch='*'``: a record already there must be this run's own. ``versions``
    names the S3 version of each file an untimestamped run wrote, ``etags`` the ETag each write
    answered."""
    # Written file by file into a spooled file: a large run's record goes through /tmp rather
    # than memory, so the filer's memory stays flat as runs grow.
    with tempfile.SpooledTemporaryFile(max_size=_RECORD_SPOOL_BYTES) as body:
        write_run_record(manifest, body, versions, etags)
        body.seek(0)
        try:
            ctx.client.put_object(
                Bucket=ctx.archive_bucket, Key=key, Body=body, ContentType=JSON_TYPE, IfNoneMatch="*",
            )
            return
        except Exception as exc:
            if not is_precondition_failed(exc):
                raise
    existing = read_record(ctx, key)
    if existing is None or existing.run_id != manifest.run_id:
        raise ArchiveConflictError(f"run record {key} belongs to another run")


def index(ctx: FilingContext, manifest: Manifest) -> None:
    """Offer the run's large files for reuse by the project's next runs (best effort).

    Runs again on a redelivery that finds the run already recorded, so a filer killed before this
    step still indexes the run; merging the same files twice changes nothing but the dates.
    """
    blob_ids = [p.id for p in manifest.pieces if p.kind == "blob"]
    files = indexed_files(manifest, blob_ids, now_iso())
    if not files:
        return
    try:
        update_index(ctx.client, ctx.staging_bucket, manifest.project_key,
                     lambda index: index.merged(files, updated_at=now_iso(),
                                                max_age_days=ctx.config.reuse_max_age_days))
    except Exception as exc:  # a missing entry costs the next run a re-send, never a filing
        ctx.log.warning("could not update the reuse index",
                        extra={"project_key": manifest.project_key, "error": str(exc)})


def clean(ctx: FilingContext) -> None:
    """Delete the run's pieces and the filer's progress notes from staging; the manifest stays until
    the receipt is written."""
    keys = [k for k in list_keys(ctx, ctx.staging_bucket, staging_run_prefix(
        ctx.location.project_key, ctx.location.run_id)) if not k.endswith("/" + MANIFEST_NAME)]
    delete_staging(ctx, [*keys, progress_key(ctx.location.project_key, ctx.location.run_id)])


def filed_receipt(ctx: FilingContext, manifest: Manifest, record_key: str) -> Receipt:
    """The *filed* receipt of a run filed by this filer, pointing at its record."""
    head = run_record_head(manifest)
    return receipt_pointing_at(ctx, manifest, record_key, prefixes=tuple(head["prefixes"]),
                               files=head["file_count"], size=head["bytes"], extra=_reuse_counts(manifest))


def receipt_pointing_at(
    ctx: FilingContext, manifest: Manifest, record_key: str, *, prefixes: tuple[str, ...], files: int,
    size: int, extra: dict[str, Any],
) -> Receipt:
    """A *filed* receipt for ``manifest``'s run pointing at the run record at ``record_key`` (its
    own, or an earlier identical run's)."""
    return new_receipt(ctx, "filed", timestamp=manifest.timestamp, run_record=record_key,
                       prefixes=prefixes, files=files, bytes=size, extra=extra)


def new_receipt(ctx: FilingContext, status: ReceiptStatus, **fields: Any) -> Receipt:
    """A receipt for the context's run, written now by this filer."""
    return Receipt(run_id=ctx.location.run_id, project_key=ctx.location.project_key, status=status,
                   archive_bucket=ctx.archive_bucket, at=now_iso(), **fields)


def _reuse_counts(manifest: Manifest) -> dict[str, int]:
    """What the receipt says about files copied from earlier runs rather than received."""
    if not manifest.reused_count:
        return {}
    return {"reused_files": manifest.reused_count, "reused_bytes": manifest.reused_bytes}


def put_receipt(ctx: FilingContext, receipt: Receipt) -> None:
    """Write a receipt (filed or refused) where the client waits for it."""
    ctx.client.put_object(
        Bucket=ctx.staging_bucket,
        Key=receipt_key(receipt.project_key, receipt.run_id),
        Body=receipt.to_json(),
        ContentType=JSON_TYPE,
    )


def answer(ctx: FilingContext, receipt: Receipt) -> None:
    """Steps 10 and 11: clean staging, write the receipt, then delete the manifest; the same for
    a run filed now and for a repeat answered with an earlier run's record."""
    clean(ctx)
    ctx.step("cleaned")
    put_receipt(ctx, receipt)
    ctx.step("receipted")
    delete_manifest(ctx)
    ctx.step("manifest-deleted")


def delete_manifest(ctx: FilingContext) -> None:
    """Delete the manifest, after the receipt: a filer dying between the two finds the receipt."""
    delete_staging(ctx, [ctx.key])
