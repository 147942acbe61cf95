"""A refusal (docs/protocol.md, after step 11): the *refused* receipt first, then the run's staging
objects moved to ``quarantine/{project}/{run_id}/`` for inspection, the manifest last.

The receipt comes first so that a filer dying mid-move is finished by the next delivery (step 2)
instead of finding neither manifest nor receipt.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from artifact_contract import MANIFEST_NAME, progress_key, quarantine_key, staging_run_prefix

from .context import FilingContext
from .exceptions import FilerRefusedError, bounded_text
from .finish import new_receipt, put_receipt
from .plumbing import MAX_SINGLE_COPY, Futures, delete_staging, list_sizes


def refuse(ctx: FilingContext, refusal: FilerRefusedError) -> None:
    """Write the refused receipt (it is kept on ``refusal``), quarantine the run, log why."""
    reason = bounded_text(refusal.reason, ctx.config.max_error_chars)
    receipt = new_receipt(ctx, "refused", code=refusal.code, reason=reason)
    put_receipt(ctx, receipt)
    refusal.receipt = receipt
    ctx.step("refusal-receipted")
    quarantine(ctx)
    ctx.step("quarantined")
    ctx.log.warning(
        "run refused",
        extra={**ctx.identity(), "code": refusal.code, "reason": reason},
    )


def quarantine(ctx: FilingContext) -> None:
    """Move the run's staging objects aside, the manifest last so a retry still finds the run."""
    objects = list_sizes(ctx, ctx.staging_bucket, staging_run_prefix(
        ctx.location.project_key, ctx.location.run_id))
    manifest = [(k, s) for k, s in objects if k.endswith("/" + MANIFEST_NAME)]
    pieces = [(k, s) for k, s in objects if not k.endswith("/" + MANIFEST_NAME)]
    # What the filer had done of it is of no more use (nor is it evidence: the receipt says why).
    delete_staging(ctx, [progress_key(ctx.location.project_key, ctx.location.run_id)])
    for batch in (pieces, manifest):
        if not batch:
            continue
        with ThreadPoolExecutor(ctx.workers(len(batch)), "quarantine") as pool:
            futures = Futures()
            for key, size in batch:
                futures.add(pool.submit(_move, ctx, key, size))
            futures.wait()


def _move(ctx: FilingContext, key: str, size: int) -> None:
    target = quarantine_key(key)
    source = {"Bucket": ctx.staging_bucket, "Key": key}
    if size > MAX_SINGLE_COPY:
        ctx.client.copy(source, ctx.staging_bucket, target, Config=ctx.transfer)
    else:
        ctx.client.copy_object(CopySource=source, Bucket=ctx.staging_bucket, Key=target)
    ctx.client.delete_object(Bucket=ctx.staging_bucket, Key=key)
