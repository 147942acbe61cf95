"""Step 6's take-over rule: when a claim on a timestamp's artifact type no longer protects a run.

A claim protects its run while the run may still be filed. It stops protecting it once the run was
refused (its claim released, or an older filer's claim left behind by a refused run) or abandoned:
the claim is older than ``FILER_CLAIM_STALE_SECONDS`` and the run has neither a manifest in staging
nor a record at the timestamp. The manifest is looked for first: a run deletes its manifest only
after its record is written (or its refused receipt), so a record not found after the manifest was
not found is never written later by a live filing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from artifact_contract import (
    Claim,
    Receipt,
    ReceiptInvalidError,
    legacy_run_record_key,
    manifest_key,
    receipt_key,
    run_record_key,
)

from .context import FilingContext
from .intake import read_record
from .plumbing import get_small, head


@dataclass(frozen=True)
class HeldClaim:
    """A claim as read: the document (None when unreadable), its ETag, and when it was written."""

    claim: Claim | None
    etag: str
    written: datetime


def may_take_over(ctx: FilingContext, found: HeldClaim, timestamp: str) -> bool:
    """Whether another run may take ``found``'s claim at ``timestamp``: its holder was refused, or
    has been abandoned for longer than the configured bound."""
    holder = found.claim
    if holder is None:
        return False
    if holder.released or refused(ctx, holder.project_key, holder.run_id):
        return not has_record(ctx, holder.project_key, timestamp, holder.run_id)
    written = found.written if found.written.tzinfo else found.written.replace(tzinfo=UTC)
    if now() - written <= timedelta(seconds=ctx.config.claim_stale_seconds):
        return False
    if head(ctx, ctx.staging_bucket, manifest_key(holder.project_key, holder.run_id)) is not None:
        return False  # still live: being filed, waiting for a delivery, or continuing
    return not has_record(ctx, holder.project_key, timestamp, holder.run_id)


def refused(ctx: FilingContext, project_key: str, run_id: str) -> bool:
    """Whether ``run_id``'s receipt says it was refused."""
    raw = get_small(ctx, ctx.staging_bucket, receipt_key(project_key, run_id))
    try:
        return raw is not None and not Receipt.from_json(raw).filed
    except ReceiptInvalidError:
        return False


def has_record(ctx: FilingContext, project_key: str, timestamp: str, run_id: str) -> bool:
    """Whether ``run_id`` is filed at ``timestamp``: its own record, or an older filer's one record."""
    if read_record(ctx, run_record_key(project_key, timestamp, run_id)) is not None:
        return True
    legacy = read_record(ctx, legacy_run_record_key(project_key, timestamp))
    return legacy is not None and legacy.run_id == run_id


def now() -> datetime:
    """The filer's clock, against the server's ``LastModified`` of a claim."""
    return datetime.now(UTC)
