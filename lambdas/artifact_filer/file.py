"""Step 7 of docs/protocol.md's filer: every file to its archive key, with this run's metadata, tags
and checksum (the entry's CRC64NVME, or its SHA-256 from clients that predate it: ``checksum``).

Pack members are streamed from the pack into parallel puts (bounded memory: small files only, and a
cap on the bytes waiting for their put); blobs and reused files are copied server-side, the large
ones in parts (``copy``). Timestamped keys are written with ``IfNoneMatch='*'``: a 412 means an
earlier attempt of this same run wrote the object, or a run that gave the type up left it (``existing``). An
untimestamped run's keys are so written too on an archive without versioning; with versioning,
they replace the latest copy and the version each write answers is noted for the record
(``versions``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from artifact_contract import FileEntry, Manifest, Piece, archive_key
from artifact_contract.s3 import body_of, is_precondition_failed

from .checksum import CRC_FIELD, algorithm, put_checksum
from .context import FilingContext
from .copy import copy_blob, copy_reused
from .existing import put_over_existing
from .plumbing import Futures, head
from .progress import Progress, reuse_unit
from .storage import ARCHIVE_TAGGING, ByteBudget, archive_metadata, content_type
from .verify import get_piece, pack_limit_for, read_pack
from .versions import conditional, note


def file_all(
    ctx: FilingContext,
    manifest: Manifest,
    etags: dict[str, str],
    sources: dict[str, tuple[str, str]],
    progress: Progress,
) -> bool:
    """Copy blobs and reused files, stream packs into parallel puts; the first failure stops new
    work. Units an earlier invocation filed are skipped; False when this invocation's time ran out
    before every unit was filed (what was, is in ``progress``)."""
    packs = [p for p in manifest.pieces if p.kind == "pack" and not progress.is_filed(p.id)]
    reused = manifest.reused  # read from the spool once: few, large files
    budget = ByteBudget(ctx.config.max_in_flight_bytes, 2 * ctx.config.concurrency)
    work = Futures(keep_results=False)
    pool = ThreadPoolExecutor(ctx.config.concurrency, "file")
    try:
        unfiled = [e for e in reused if not progress.is_filed(reuse_unit(e.member_name))]
        # The reused files whose CRC64NVME only their copy can prove go first, alone: a manifest
        # whose value lies is then refused before anything else of the run is written.
        unproven = _unproven(ctx, pool, unfiled, sources)
        if unproven:
            first = Futures(keep_results=False)
            for entry in unproven:
                first.add(_submit_reused(ctx, manifest, entry, sources, pool, progress))
            first.wait()
        for entry in unfiled:
            if entry not in unproven:
                work.add(_submit_reused(ctx, manifest, entry, sources, pool, progress))
        for piece in manifest.pieces:
            if piece.kind == "blob" and not progress.is_filed(piece.id):
                unit = _Unit(piece.id, progress)
                for entry in manifest.files_of(piece.id):
                    work.add(unit.track(pool.submit(
                        _unless_late, progress, copy_blob, ctx, manifest, piece, etags[piece.id], entry)))
                unit.close()
        with ThreadPoolExecutor(ctx.workers(len(packs), cap=4), "unpack") as unpack:
            for piece in packs:
                work.add(unpack.submit(
                    _file_pack, ctx, manifest, piece, manifest.files_of(piece.id), etags[piece.id], pool,
                    budget, work, progress,
                ))
        # Every pack reader has finished, so every put is registered by now.
        work.wait()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    units = [p.id for p in manifest.pieces] + [reuse_unit(e.member_name) for e in reused]
    return all(progress.is_filed(u) for u in units)


def _submit_reused(ctx: FilingContext, manifest: Manifest, entry: FileEntry,
                   sources: dict[str, tuple[str, str]], pool: ThreadPoolExecutor,
                   progress: Progress) -> Future[Any]:
    key, etag = sources[entry.sha256]
    unit = _Unit(reuse_unit(entry.member_name), progress)
    future = unit.track(pool.submit(_unless_late, progress, copy_reused, ctx, manifest, entry, key, etag))
    unit.close()
    return future


def _unproven(ctx: FilingContext, pool: ThreadPoolExecutor, reused: Sequence[FileEntry],
              sources: dict[str, tuple[str, str]]) -> list[FileEntry]:
    """The reused files with a CRC64NVME whose earlier copy holds none (written with SHA-256), or
    is gone: S3 computes it only as it copies them (a HEAD each, in parallel; reused files are few)."""
    todo = [e for e in reused if e.crc64nvme is not None]
    found = Futures()
    for entry in todo:
        found.add(pool.submit(head, ctx, ctx.archive_bucket, sources[entry.sha256][0], checksums=True))
    return [e for e, h in zip(todo, found.wait(), strict=True) if not (h or {}).get(CRC_FIELD)]


#: What a unit's task returns when it did not start: the invocation's time was up.
_LATE = object()


def _unless_late(progress: Progress, task: Callable[..., Any], *args: Any) -> Any:
    return _LATE if progress.out_of_time() else task(*args)


class _Unit:
    """A unit of filing (a pack, a blob, a reused file): filed once the requests it was given all
    succeeded and its submitter closed it. Requests may finish on any thread, the native client's
    included."""

    def __init__(self, name: str, progress: Progress) -> None:
        self._name = name
        self._progress = progress
        self._lock = threading.Lock()
        self._pending = 1  # the submitter's own hold, released by close()
        self._failed = False

    def track(self, future: Future[Any]) -> Future[Any]:
        with self._lock:
            self._pending += 1
        future.add_done_callback(self._settled)
        return future

    def close(self, *, complete: bool = True) -> None:
        self._release(not complete)

    def _settled(self, future: Future[Any]) -> None:
        self._release(future.cancelled() or future.exception() is not None or future.result() is _LATE)

    def _release(self, failed: bool) -> None:
        with self._lock:
            self._failed = self._failed or failed
            self._pending -= 1
            filed = self._pending == 0 and not self._failed
        if filed:
            self._progress.mark_filed(self._name)


# -- packed files ---------------------------------------------------------------------------------


def _file_pack(
    ctx: FilingContext,
    manifest: Manifest,
    piece: Piece,
    entries: Sequence[FileEntry],
    etag: str,
    pool: ThreadPoolExecutor,
    budget: ByteBudget,
    writes: Futures,
    progress: Progress,
) -> None:
    if progress.out_of_time():
        return
    unit = _Unit(piece.id, progress)
    complete = False
    try:
        response = get_piece(ctx, manifest, piece, etag)
        with body_of(response) as body:
            members = read_pack(body, piece, entries, limit=pack_limit_for(ctx.config, entries),
                                chunk=ctx.config.read_chunk_bytes, keep=True,
                                header_limit=ctx.config.max_extended_header_bytes)
            for entry, data in members:
                if writes.failed.is_set():
                    return
                assert data is not None
                writes.add(unit.track(_submit_member(ctx, manifest, entry, data, pool, budget)))
        complete = not writes.failed.is_set()
    finally:
        unit.close(complete=complete)


def _submit_member(
    ctx: FilingContext, manifest: Manifest, entry: FileEntry, data: bytes, pool: ThreadPoolExecutor,
    budget: ByteBudget,
) -> Future[Any]:
    """Send one packed file's put, once the bytes waiting for their put leave room for it."""
    size = len(data)
    budget.acquire(size)
    try:
        if ctx.putter is not None:
            future = _put_member_natively(ctx, manifest, entry, data, pool)
        else:
            future = pool.submit(_put_member, ctx, manifest, entry, data)
    except BaseException:
        budget.release(size)
        raise
    future.add_done_callback(lambda _f: budget.release(size))
    return future


def _member_put(ctx: FilingContext, manifest: Manifest, entry: FileEntry, data: bytes) -> dict[str, Any]:
    """The put of one packed file, in botocore's parameter names (the native putter takes them too)."""
    return {
        "Bucket": ctx.archive_bucket,
        "Key": archive_key(manifest.project_key, entry.type, manifest.timestamp, entry.path),
        "Body": data,
        "ContentType": content_type(entry.path),
        **put_checksum(entry),
        "Metadata": archive_metadata(manifest, entry),
        "Tagging": ARCHIVE_TAGGING,
        **({"IfNoneMatch": "*"} if conditional(ctx, manifest) else {}),
    }


def _put_member(ctx: FilingContext, manifest: Manifest, entry: FileEntry, data: bytes) -> None:
    put = _member_put(ctx, manifest, entry, data)
    try:
        note(ctx, put["Key"], ctx.client.put_object(ChecksumAlgorithm=algorithm(entry), **put))
    except Exception as exc:
        if not ("IfNoneMatch" in put and is_precondition_failed(exc)):
            raise
        put_over_existing(ctx, manifest, entry, put)
    ctx.step("object-filed")


def _put_member_natively(
    ctx: FilingContext, manifest: Manifest, entry: FileEntry, data: bytes, pool: ThreadPoolExecutor
) -> Future[None]:
    """The put sent from the pack reader's thread, answered on the native client's: no worker
    thread waits for it. Only a 412 (an earlier attempt's object) goes to a worker, whose HEAD
    confirms the object is this run's (or replaces a leftover of a run that gave the type up)."""
    put = _member_put(ctx, manifest, entry, data)
    filed: Future[None] = Future()
    filed.set_running_or_notify_cancel()  # in flight from here on: not to be cancelled

    def settle(outcome: Future[Any]) -> None:
        try:
            note(ctx, put["Key"], outcome.result())
            ctx.step("object-filed")
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for the put
            filed.set_exception(exc)
        else:
            filed.set_result(None)

    def answered(sent: Future[Any]) -> None:
        error = sent.exception()
        if error is not None and "IfNoneMatch" in put and is_precondition_failed(error):
            try:
                pool.submit(put_over_existing, ctx, manifest, entry, put).add_done_callback(settle)
            except RuntimeError as exc:  # the pool is shutting down: filing has already failed
                filed.set_exception(exc)
            return
        settle(sent)

    ctx.putter.put_object(**put).add_done_callback(answered)
    return filed
