"""Step 7's server-side copies: blobs from staging and reused files from an earlier run's archived
copy, to this run's archive key with its metadata, tags and checksum; the large ones in parts.

A copy never sends the bytes, so S3 computes the checksum it keeps from the bytes it copies: the
entry's CRC64NVME is compared with what it answers (a multipart copy is also given the value at
completion, so S3 itself refuses an assembly that does not match). A reused source written before
the filer kept CRC64NVME (a SHA-256 object) still ends up with it: S3 recomputes it on copy.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from artifact_contract import CRC64NVME, FileEntry, Manifest, Piece, archive_key, piece_key
from artifact_contract.s3 import error_code, is_missing, is_precondition_failed, part_ranges

from .assembled import check_assembled
from .checksum import algorithm, written_crc_problem
from .context import FilingContext
from .exceptions import ArchiveChangedError, FilerRefusedError, PieceChangedError
from .existing import confirm_existing, confirm_written
from .plumbing import MAX_SINGLE_COPY, Futures, head
from .reuse import UNCOPYABLE_CODES, unavailable
from .storage import ARCHIVE_TAGGING, archive_metadata, content_type, sha256_b64
from .versions import conditional, note

#: What S3 answers a completion whose full-object checksum is not that of the parts assembled.
_BAD_CHECKSUM = frozenset({"BadDigest", "InvalidDigest", "InvalidRequest"})


def copy_blob(ctx: FilingContext, manifest: Manifest, piece: Piece, etag: str, entry: FileEntry) -> None:
    source = {
        "Bucket": ctx.staging_bucket,
        "Key": piece_key(manifest.project_key, manifest.run_id, piece.id),
    }

    def changed() -> FilerRefusedError:
        return PieceChangedError(f"blob {piece.id} was replaced after it was verified")

    # The blob's bytes, CRC64NVME included, were verified: a part copy S3 assembles otherwise is
    # S3's fault, removed and made again (a transient failure), never the run's.
    _copy(ctx, manifest, entry, source, etag, changed, assembled_otherwise=None)


def copy_reused(
    ctx: FilingContext, manifest: Manifest, entry: FileEntry, source_key: str, etag: str
) -> None:
    """Copy an earlier run's archived copy to this run's key, as a blob from staging is copied."""

    def changed() -> FilerRefusedError:
        problem = f"the copy {source_key} changed after it was checked, or its checksum is not the manifest's"
        return unavailable(manifest, {entry.sha256: problem})

    try:
        # Only the copy proves the manifest's CRC64NVME of a reused file: any mismatch refuses it.
        _copy(ctx, manifest, entry, {"Bucket": ctx.archive_bucket, "Key": source_key}, etag, changed,
              assembled_otherwise=changed)
    except FilerRefusedError:
        raise
    except Exception as exc:
        # The copy vanished or went to Glacier between the check and the copy: the run is
        # refused like a blob replaced in staging, and the client sends it again in full.
        if is_missing(exc) or error_code(exc) in UNCOPYABLE_CODES:
            raise unavailable(
                manifest, {entry.sha256: f"the copy {source_key} could not be copied ({error_code(exc)})"}
            ) from None
        raise


def _copy(
    ctx: FilingContext,
    manifest: Manifest,
    entry: FileEntry,
    source: dict[str, str],
    etag: str,
    changed: Callable[[], FilerRefusedError],
    assembled_otherwise: Callable[[], FilerRefusedError] | None,
) -> None:
    """Copy ``source`` server-side to the entry's archive key with this run's metadata and tags.

    ``CopySourceIfMatch`` holds the source to what was verified; a source that changed anyway, or
    whose copy answers another checksum than the entry's, raises ``changed()``. A part copy S3
    refuses to assemble as the entry's CRC64NVME, or assembles otherwise, raises
    ``assembled_otherwise()`` (None: a transient failure, so the copy is made again).
    """
    key = archive_key(manifest.project_key, entry.type, manifest.timestamp, entry.path)
    args: dict[str, Any] = {
        "CopySourceIfMatch": etag,
        "MetadataDirective": "REPLACE",
        "Metadata": archive_metadata(manifest, entry),
        "ContentType": content_type(entry.path),
        "TaggingDirective": "REPLACE",
        "Tagging": ARCHIVE_TAGGING,
        "ChecksumAlgorithm": algorithm(entry),
    }
    condition: dict[str, str] = {}
    if conditional(ctx, manifest):  # always for a timestamped run
        # A HEAD first: a redelivery finds the copy done, and a server that ignores a copy's
        # IfNoneMatch (moto) still never copies over an object that is there.
        found = head(ctx, ctx.archive_bucket, key, checksums=True)
        leftover = None if found is None else confirm_existing(ctx, manifest, entry, key, found)
        if found is not None and leftover is None:
            ctx.step("object-filed")
            return
        condition = {"IfMatch": leftover} if leftover else {"IfNoneMatch": "*"}
    if entry.size > min(ctx.config.multipart_copy_threshold_bytes, MAX_SINGLE_COPY):
        completed = _copy_in_parts(ctx, source, key, args, entry, condition, changed, assembled_otherwise)
        note(ctx, key, completed)
        if condition:
            confirm_written(ctx, manifest, entry, key)
        ctx.step("object-filed")
        return
    _copy_whole(ctx, manifest, entry, source, key, {**args, **condition}, changed)
    ctx.step("object-filed")


def _copy_whole(
    ctx: FilingContext,
    manifest: Manifest,
    entry: FileEntry,
    source: dict[str, str],
    key: str,
    args: dict[str, Any],
    changed: Callable[[], FilerRefusedError],
) -> None:
    """One CopyObject; its answer's checksum must be the entry's, or the copy is undone."""
    try:
        response = ctx.client.copy_object(CopySource=source, Bucket=ctx.archive_bucket, Key=key, **args)
    except Exception as exc:
        if not is_precondition_failed(exc):
            raise
        # Either the key was written in between (an earlier attempt) or the source changed.
        if head(ctx, ctx.archive_bucket, key) is None:
            raise changed() from None
        confirm_written(ctx, manifest, entry, key)
        return
    note(ctx, key, response)
    result = response.get("CopyObjectResult", {})
    if entry.crc64nvme is not None:
        problem = written_crc_problem(ctx, entry, key, result)
        if problem is not None:
            ctx.log.error("a copy's checksum is not the manifest's", extra={"key": key, "problem": problem})
            _undo_copy(ctx, key)
            raise changed()
        return
    written = result.get("ChecksumSHA256")
    if written is not None and written != sha256_b64(entry.sha256):
        # The source changed under a server that ignored CopySourceIfMatch: undo, refuse.
        _undo_copy(ctx, key)
        raise changed()


def _copy_in_parts(
    ctx: FilingContext,
    source: dict[str, str],
    key: str,
    args: dict[str, Any],
    entry: FileEntry,
    condition: dict[str, str],
    changed: Callable[[], FilerRefusedError],
    assembled_otherwise: Callable[[], FilerRefusedError] | None,
) -> dict[str, Any] | None:
    """A multipart copy completed on ``condition`` (timestamped keys: ``IfNoneMatch='*'``, or
    ``IfMatch`` on a leftover it replaces); the completion's answer (its version), or None when
    another attempt completed it.

    s3transfer's copy cannot make its completion conditional, and a HEAD before it does not
    stop two deliveries of the same message copying at once: both saw no object, both wrote
    one, a second version. Completing conditionally, the slower one gets a 412 (the caller
    then confirms the object is this run's) and its parts are discarded. With a CRC64NVME the
    upload is FULL_OBJECT and the completion carries the entry's value: S3 refuses to assemble
    anything else.
    """
    create = {k: args[k] for k in ("Metadata", "ContentType", "Tagging", "ChecksumAlgorithm")}
    full_object: dict[str, str] = {}
    if entry.crc64nvme is not None:
        create["ChecksumType"] = "FULL_OBJECT"
        full_object = {f"Checksum{CRC64NVME}": entry.crc64nvme, "ChecksumType": "FULL_OBJECT"}
    upload_id = ctx.client.create_multipart_upload(Bucket=ctx.archive_bucket, Key=key, **create)[
        "UploadId"]
    # Within S3's 10,000 parts whatever the file's size: a 100 GB blob in 8 MiB parts would not be.
    ranges = part_ranges(entry.size, ctx.config.multipart_copy_chunk_bytes)
    completing = False
    try:
        with ThreadPoolExecutor(ctx.workers(len(ranges), cap=16), "copy-part") as pool:
            futures = Futures()
            for number, first, last in ranges:
                futures.add(pool.submit(_copy_part, ctx, source, key, upload_id, number, first, last,
                                        args["CopySourceIfMatch"]))
            parts = futures.wait()
        completing = True
        completed: dict[str, Any] = ctx.client.complete_multipart_upload(
            Bucket=ctx.archive_bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts},
            **full_object, **condition,
        )
    except Exception as exc:
        _abort_upload(ctx, key, upload_id)
        if is_precondition_failed(exc):
            if completing and condition:
                return None  # another attempt of this run completed first; the caller confirms it
            raise changed() from None
        if completing and condition and error_code(exc) == "NoSuchUpload":
            return None  # a completion retried after its answer was lost; the caller confirms it
        if completing and full_object and error_code(exc) in _BAD_CHECKSUM:
            # S3 assembled the parts and found another CRC64NVME than the manifest's.
            if assembled_otherwise is not None:
                raise assembled_otherwise() from None
            raise ArchiveChangedError(
                f"archive object {key}: S3 refused to assemble its parts as the crc64nvme {entry.crc64nvme} "
                f"({error_code(exc)})"
            ) from None
        raise
    check_assembled(ctx, key, completed, parts, entry, assembled_otherwise)
    return completed


def _copy_part(ctx: FilingContext, source: dict[str, str], key: str, upload_id: str, number: int,
               first: int, last: int, etag: str) -> dict[str, Any]:
    response = ctx.client.upload_part_copy(
        Bucket=ctx.archive_bucket, Key=key, UploadId=upload_id, PartNumber=number,
        CopySource=source, CopySourceRange=f"bytes={first}-{last}", CopySourceIfMatch=etag,
    )
    result = response["CopyPartResult"]
    part = {"PartNumber": number, "ETag": result["ETag"]}
    # The part's own checksum, of the upload's algorithm, where S3 answers one (moto does not).
    for name in ("ChecksumSHA256", f"Checksum{CRC64NVME}"):
        if result.get(name):
            part[name] = result[name]
    return part


def _abort_upload(ctx: FilingContext, key: str, upload_id: str) -> None:
    try:
        ctx.client.abort_multipart_upload(Bucket=ctx.archive_bucket, Key=key, UploadId=upload_id)
    except Exception as exc:  # the bucket's lifecycle rule aborts what is left behind
        ctx.log.warning("could not abort a multipart copy", extra={"key": key, "error": str(exc)})


def _undo_copy(ctx: FilingContext, key: str) -> None:
    try:
        ctx.client.delete_object(Bucket=ctx.archive_bucket, Key=key)
    except Exception as exc:  # the filer's role may not delete in the archive: leave it, say so
        ctx.log.error("could not remove a copy of a changed blob", extra={"key": key, "error": str(exc)})

