"""Steps 1 to 4 of docs/protocol.md's filer, the reading ones: decode the manifest key, look for a
receipt, read and check the manifest, and read the run record if the run was filed before."""

from __future__ import annotations

import logging
from typing import Any

from artifact_contract import (
    MAX_MANIFEST_BYTES,
    ContractError,
    Manifest,
    ManifestInvalidError,
    ManifestLocation,
    PathReservedError,
    Receipt,
    ReceiptInvalidError,
    RecordInvalidError,
    RefusalCode,
    RunRecord,
    parse_manifest_key,
    receipt_key,
)
from artifact_contract.s3 import body_of, is_missing

from .context import FilingContext
from .exceptions import ManifestRefusedError
from .plumbing import get_small, reread


def decode(key: str, log: logging.Logger | Any) -> ManifestLocation | None:
    """The run's place from its manifest key (step 1), or None for a key that is not a manifest's.

    A key shaped like a manifest's whose parts break the layout cannot name a receipt: it is refused
    without one.
    """
    try:
        location = parse_manifest_key(key)
    except ContractError as exc:
        log.error("manifest key refused, no receipt possible", extra={"key": key})
        raise ManifestRefusedError(f"manifest key {key!r} breaks the layout: {exc}") from None
    if location is None:
        log.debug("not a manifest key, ignored", extra={"key": key})
    return location


def read_receipt(ctx: FilingContext) -> Receipt | None:
    """The run's receipt from an earlier delivery (step 2), or None; an unreadable one is replaced."""
    raw = get_small(ctx, ctx.staging_bucket, receipt_key(ctx.location.project_key, ctx.location.run_id))
    if raw is None:
        return None
    try:
        return Receipt.from_json(raw)
    except ReceiptInvalidError:
        ctx.log.warning("unreadable receipt is replaced", extra=ctx.identity())
        return None


def read_manifest(ctx: FilingContext) -> Manifest | None:
    """The run's manifest, checked against its key and this filer (step 3); None when it is gone."""
    return reread(ctx, lambda: _read_manifest_once(ctx))


def _read_manifest_once(ctx: FilingContext) -> Manifest | None:
    try:
        response = ctx.client.get_object(Bucket=ctx.staging_bucket, Key=ctx.key)
    except Exception as exc:
        if is_missing(exc):
            return None
        raise
    with body_of(response) as body:
        if response["ContentLength"] > MAX_MANIFEST_BYTES:
            raise ManifestRefusedError(
                f"manifest is {response['ContentLength']} bytes, more than the "
                f"{MAX_MANIFEST_BYTES} allowed"
            )
        try:
            manifest = Manifest.read(body, max_pieces=ctx.config.max_manifest_pieces)
        except PathReservedError as exc:
            raise ManifestRefusedError(str(exc), RefusalCode.PATH_RESERVED) from None
        except ManifestInvalidError as exc:
            raise ManifestRefusedError(str(exc)) from None
    check_manifest(ctx, manifest)
    ctx.manifest_etag = response.get("ETag", "")
    return manifest


def check_manifest(ctx: FilingContext, manifest: Manifest) -> None:
    """Refuse a manifest for another run or archive, or one packing a file too large to hold."""
    location = ctx.location
    mismatch = RefusalCode.MANIFEST_MISMATCH
    if (manifest.project_key, manifest.run_id) != (location.project_key, location.run_id):
        raise ManifestRefusedError(
            f"manifest names project {manifest.project_key!r} run {manifest.run_id}, but was "
            f"uploaded as project {location.project_key!r} run {location.run_id}",
            mismatch,
        )
    if manifest.archive_bucket != ctx.archive_bucket:
        raise ManifestRefusedError(
            f"manifest is for archive bucket {manifest.archive_bucket!r}, this filer files into "
            f"{ctx.archive_bucket!r}: point the client's aws.s3_bucket_raw at {ctx.archive_bucket!r}",
            mismatch,
        )
    pieces = manifest.pieces_by_id()
    max_packed = ctx.config.max_packed_file_bytes
    for entry in manifest.files:
        if entry.piece is None:
            continue
        if pieces[entry.piece].kind == "pack" and entry.size > max_packed:
            raise ManifestRefusedError(
                f"{entry.member_name} ({entry.size} bytes) travels in a pack, but packed files "
                f"may be at most {max_packed} bytes: send it as a blob",
                RefusalCode.PACKED_FILE_TOO_LARGE,
            )


def read_record(ctx: FilingContext, key: str) -> RunRecord | None:
    """The run record at ``key`` in the archive (step 4), or None when there is none readable."""
    raw = get_small(ctx, ctx.archive_bucket, key)
    if raw is None:
        return None
    try:
        return RunRecord.from_json(raw)
    except RecordInvalidError:
        return None
