"""The filing algorithm of docs/protocol.md: verify, claim, file, record, clean, receipt.

Every step is idempotent and ordered so that a filer killed anywhere and run again on the same
manifest ends in the archive state of an undisturbed run: nothing reaches the archive before every
piece is verified, the run record is written only after every file, staging is cleaned only after the
record, and the receipt comes last.
"""

from __future__ import annotations

import http.client
import logging
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import IncompleteReadError, ResponseStreamingError
from urllib3.exceptions import ProtocolError

from artifact_contract import (
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    META_RUN_ID,
    META_SHA256,
    RECEIPT_ALREADY_FILED,
    RECEIPT_FILED_RUN_ID,
    Claim,
    ContractError,
    FileEntry,
    IndexedFile,
    Manifest,
    ManifestInvalidError,
    ManifestLocation,
    Piece,
    Receipt,
    ReceiptInvalidError,
    RecordInvalidError,
    RefusalCode,
    RunRecord,
    archive_key,
    claim_key,
    content_sha256,
    parse_manifest_key,
    piece_key,
    quarantine_key,
    receipt_key,
    run_record_head,
    run_record_key,
    staging_run_prefix,
    write_run_record,
)
from artifact_contract.s3 import body_of, error_code, is_missing, is_precondition_failed, now_iso

from .config import FilerConfig
from .exceptions import (
    ArchiveChangedError,
    ArchiveConflictError,
    FilerRefusedError,
    ManifestRefusedError,
    PieceChangedError,
    PieceCorruptError,
    PieceMissingError,
    RunRefusedError,
    StagingCleanError,
    StagingReadError,
    TimestampBusyError,
    TimestampTakenError,
)
from .reuse import (
    UNCOPYABLE_CODES,
    copy_problem,
    index_problem,
    indexed_files,
    read_index,
    unavailable,
    update_index,
)
from .storage import (
    ARCHIVE_TAGGING,
    ByteBudget,
    archive_metadata,
    content_type,
    same_run,
    sha256_b64,
)
from .verify import pack_limit, read_blob, read_pack

#: CopyObject's own ceiling; anything larger must be copied in parts.
_MAX_SINGLE_COPY = 5 * 1024**3
_DELETE_BATCH = 1000
_JSON = "application/json"
#: Run records up to this size are written from memory, larger ones through /tmp.
_RECORD_SPOOL_BYTES = 1024 * 1024

#: Step names passed to ``FilerConfig.on_step``, in the order an undisturbed filing reaches them.
STEPS = (
    "receipt-checked",
    "manifest-read",
    "record-checked",
    "verified",
    "claimed",
    "object-filed",
    "filed",
    "recorded",
    "indexed",
    "cleaned",
    "receipted",
    "manifest-deleted",
)
#: Step names of a refusal.
REFUSAL_STEPS = ("refusal-receipted", "quarantined")

#: Reads of an answer that was cut off, before the message is failed. botocore retries a request,
#: but neither the reading of a streamed body nor a truncated error body: without this, one dropped
#: connection would cost a whole SQS delivery, and three would send a good run to the dead letters.
_READ_ATTEMPTS = 3
_CUT_OFF = (StagingReadError, ResponseStreamingError, IncompleteReadError, ProtocolError,
            http.client.IncompleteRead)

_T = TypeVar("_T")


def _reuse_counts(manifest: Manifest) -> dict[str, int]:
    """What the receipt says about files copied from earlier runs rather than received."""
    reused = manifest.reused
    if not reused:
        return {}
    return {"reused_files": len(reused), "reused_bytes": sum(f.size for f in reused)}


class _Futures:
    """Futures of one phase: stop feeding work at the first failure, then report the best error.

    ``keep_results=False`` is for phases that need no results (a put per filed file): a future
    that succeeded is forgotten as soon as it is done, so memory does not grow with the run.
    """

    def __init__(self, *, keep_results: bool = True) -> None:
        self._lock = threading.Lock()
        self._keep_results = keep_results
        #: In the order added (a dict keeps it), so results come back in that order.
        self._futures: dict[Future[Any], None] = {}
        self.failed = threading.Event()

    def add(self, future: Future[Any]) -> None:
        with self._lock:
            self._futures[future] = None
        future.add_done_callback(self._done)

    def _done(self, future: Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.failed.set()
        elif not self._keep_results and not future.cancelled():
            with self._lock:
                self._futures.pop(future, None)

    def wait(self) -> list[Any]:
        """Wait for everything, then raise a refusal if any, else the first error, else results
        (none without ``keep_results``)."""
        with self._lock:
            futures = list(self._futures)
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        if pending and self.failed.is_set():
            for f in pending:
                f.cancel()
        wait(futures)
        errors = [f.exception() for f in futures if not f.cancelled() and f.exception() is not None]
        refusals = [e for e in errors if isinstance(e, FilerRefusedError)]
        if refusals:
            raise refusals[0]
        if errors:
            raise errors[0]  # type: ignore[misc]
        return [f.result() for f in futures] if self._keep_results else []


class Filer:
    """Files the runs whose manifests arrive in ``staging_bucket`` into ``archive_bucket``.

    ``client`` is a boto3 S3 client whose connection pool fits ``config.concurrency``; it is shared
    by every worker thread (boto3 clients are thread-safe).
    """

    def __init__(
        self,
        client: Any,
        *,
        staging_bucket: str,
        archive_bucket: str,
        config: FilerConfig | None = None,
        logger: logging.Logger | Any | None = None,
    ) -> None:
        self.client = client
        self.staging_bucket = staging_bucket
        self.archive_bucket = archive_bucket
        self.config = config or FilerConfig()
        self.log = logger or logging.getLogger(__name__)
        self._transfer = TransferConfig(
            multipart_threshold=self.config.multipart_copy_threshold_bytes,
            multipart_chunksize=self.config.multipart_copy_chunk_bytes,
            max_concurrency=min(16, self.config.concurrency),
        )

    # ------------------------------------------------------------------ the algorithm

    def file(self, key: str) -> Receipt | None:
        """File the run whose manifest is at the (URL-decoded) staging ``key``.

        Returns the *filed* receipt, or ``None`` when there is nothing to do (not a manifest key, or
        the manifest is gone without a receipt). Raises a :class:`FilerRefusedError` once a refused
        receipt is written and the run's staging objects are quarantined; any other error is
        transient and leaves everything ready for another attempt.
        """
        try:
            location = parse_manifest_key(key)
        except ContractError as exc:
            self.log.error("manifest key refused, no receipt possible", extra={"key": key})
            raise ManifestRefusedError(f"manifest key {key!r} breaks the layout: {exc}") from None
        if location is None:
            self.log.debug("not a manifest key, ignored", extra={"key": key})
            return None

        previous = self._read_receipt(location)
        self._step("receipt-checked")
        if previous is not None:
            if previous.filed:
                self._delete_staging([key])
                self.log.info("run already filed", extra=self._identity(location))
                return previous
            self._quarantine(location)
            raise RunRefusedError.from_receipt(previous)

        try:
            return self._file(location, key)
        except FilerRefusedError as refusal:
            self._refuse(location, refusal)
            raise

    def _file(self, location: ManifestLocation, key: str) -> Receipt | None:
        manifest = self._read_manifest(location, key)
        if manifest is None:
            self.log.info("manifest gone and no receipt: nothing to do", extra=self._identity(location))
            return None
        self._step("manifest-read")

        record_key = run_record_key(manifest.project_key, manifest.timestamp, manifest.run_id)
        record = self._read_record(record_key)
        self._step("record-checked")
        if record is not None and record.run_id == manifest.run_id:
            self.log.info("run record exists: finishing an earlier attempt", extra=self._identity(location))
        else:
            earlier = self._identical_filed(manifest, record, record_key)
            if earlier is not None:
                return self._answer_already_filed(location, key, manifest, *earlier)
            etags = self._verify(manifest)
            sources = self._verify_reused(manifest)
            self._step("verified")
            if manifest.timestamp is not None:
                earlier = self._claim(manifest)
                if earlier is not None:
                    return self._answer_already_filed(location, key, manifest, *earlier)
                self._step("claimed")
            self._file_all(manifest, etags, sources)
            self._step("filed")
            self._write_record(manifest, record_key)
            self._step("recorded")

        self._index(manifest)
        self._step("indexed")
        self._clean(location)
        self._step("cleaned")
        receipt = self._filed_receipt(manifest, record_key)
        self._put_receipt(receipt)
        self._step("receipted")
        self._delete_staging([key])
        self._step("manifest-deleted")
        self.log.info(
            "run filed",
            extra={**self._identity(location), "files": receipt.files, "bytes": receipt.bytes,
                   "timestamp": manifest.timestamp},
        )
        return receipt

    # ------------------------------------------------------------------ steps

    def _step(self, name: str) -> None:
        if self.config.on_step is not None:
            self.config.on_step(name)

    @staticmethod
    def _identity(location: ManifestLocation) -> dict[str, str]:
        return {"project_key": location.project_key, "run_id": location.run_id}

    def _read_receipt(self, location: ManifestLocation) -> Receipt | None:
        raw = self._get_small(self.staging_bucket, receipt_key(location.project_key, location.run_id))
        if raw is None:
            return None
        try:
            return Receipt.from_json(raw)
        except ReceiptInvalidError:
            self.log.warning("unreadable receipt is replaced", extra=self._identity(location))
            return None

    def _read_manifest(self, location: ManifestLocation, key: str) -> Manifest | None:
        return self._reread(lambda: self._read_manifest_once(location, key))

    def _read_manifest_once(self, location: ManifestLocation, key: str) -> Manifest | None:
        try:
            response = self.client.get_object(Bucket=self.staging_bucket, Key=key)
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
                manifest = Manifest.read(body)
            except ManifestInvalidError as exc:
                raise ManifestRefusedError(str(exc)) from None
        self._check_manifest(location, manifest)
        return manifest

    def _check_manifest(self, location: ManifestLocation, manifest: Manifest) -> None:
        mismatch = RefusalCode.MANIFEST_MISMATCH
        if (manifest.project_key, manifest.run_id) != (location.project_key, location.run_id):
            raise ManifestRefusedError(
                f"manifest names project {manifest.project_key!r} run {manifest.run_id}, but was "
                f"uploaded as project {location.project_key!r} run {location.run_id}",
                mismatch,
            )
        if manifest.archive_bucket != self.archive_bucket:
            raise ManifestRefusedError(
                f"manifest is for archive bucket {manifest.archive_bucket!r}, this filer files into "
                f"{self.archive_bucket!r}: point the client's aws.s3_bucket_raw at {self.archive_bucket!r}",
                mismatch,
            )
        pieces = manifest.pieces_by_id()
        for entry in manifest.files:
            if entry.piece is None:
                continue
            if pieces[entry.piece].kind == "pack" and entry.size > self.config.max_packed_file_bytes:
                raise ManifestRefusedError(
                    f"{entry.member_name} ({entry.size} bytes) travels in a pack, but packed files "
                    f"may be at most {self.config.max_packed_file_bytes} bytes: send it as a blob",
                    RefusalCode.PACKED_FILE_TOO_LARGE,
                )

    def _read_record(self, key: str) -> RunRecord | None:
        raw = self._get_small(self.archive_bucket, key)
        if raw is None:
            return None
        try:
            return RunRecord.from_json(raw)
        except RecordInvalidError:
            return None

    # --- verify

    def _verify(self, manifest: Manifest) -> dict[str, str]:
        """Stream every piece against the manifest; return each piece's ETag for the second read."""
        grouped = manifest.files_by_piece()
        with ThreadPoolExecutor(self._workers(len(manifest.pieces)), "verify") as pool:
            futures = _Futures()
            for piece in manifest.pieces:
                futures.add(pool.submit(self._verify_piece, manifest, piece, grouped[piece.id]))
            etags = futures.wait()
        return {piece.id: etag for piece, etag in zip(manifest.pieces, etags, strict=True)}

    def _verify_piece(self, manifest: Manifest, piece: Piece, entries: Sequence[FileEntry]) -> str:
        return self._reread(lambda: self._verify_piece_once(manifest, piece, entries))

    def _verify_piece_once(self, manifest: Manifest, piece: Piece, entries: Sequence[FileEntry]) -> str:
        response = self._get_piece(manifest, piece, None)
        with body_of(response) as body:
            if response["ContentLength"] != piece.size:
                raise PieceCorruptError(
                    f"piece {piece.id} is {response['ContentLength']} bytes, the manifest declares "
                    f"{piece.size}"
                )
            chunk = self.config.read_chunk_bytes
            if piece.kind == "blob":
                read_blob(body, piece, chunk)
            else:
                for _ in read_pack(body, piece, entries, limit=self._pack_limit(entries), chunk=chunk,
                                   keep=False):
                    pass
        return response["ETag"]

    def _verify_reused(self, manifest: Manifest) -> dict[str, tuple[str, str]]:
        """Check every reused file's archived copy; return its key and ETag by SHA-256.

        Part of the verify pass: a missing, changed or Glacier copy refuses the run before anything
        is claimed or written, so the client's re-send can take the same timestamp. Copies that
        failed are dropped from the reuse index, so no later run offers them again.
        """
        wanted = {f.sha256: f for f in manifest.reused}
        if not wanted:
            return {}
        index, _ = read_index(self.client, self.staging_bucket, manifest.project_key)
        with ThreadPoolExecutor(self._workers(len(wanted)), "reuse") as pool:
            futures = _Futures()
            for entry in wanted.values():
                futures.add(pool.submit(self._check_reused, manifest, entry, index.entries.get(entry.sha256)))
            checked = futures.wait()
        sources = {sha: found for sha, found in zip(wanted, checked, strict=True) if isinstance(found, tuple)}
        problems = {sha: found for sha, found in zip(wanted, checked, strict=True) if isinstance(found, str)}
        if problems:
            self._forget_reused(manifest.project_key, problems)
            raise unavailable(manifest, problems)
        return sources

    def _check_reused(
        self, manifest: Manifest, entry: FileEntry, indexed: IndexedFile | None
    ) -> tuple[str, str] | str:
        """The copy's key and ETag, or why there is none."""
        problem = index_problem(manifest.project_key, entry, indexed)
        if problem is not None or indexed is None:
            return problem or "no earlier copy is known"
        head = self._head(self.archive_bucket, indexed.key)
        problem = copy_problem(manifest.project_key, entry, indexed.key, head)
        if problem is not None or head is None:
            return problem or "no copy"
        return indexed.key, head["ETag"]

    def _forget_reused(self, project_key: str, problems: dict[str, str]) -> None:
        try:
            update_index(self.client, self.staging_bucket, project_key,
                         lambda index: index.without(problems, updated_at=now_iso()))
        except Exception as exc:  # the refusal matters, the index is only a hint
            self.log.warning("could not drop unusable copies from the reuse index",
                             extra={"project_key": project_key, "error": str(exc)})

    def _get_piece(self, manifest: Manifest, piece: Piece, etag: str | None) -> dict[str, Any]:
        key = piece_key(manifest.project_key, manifest.run_id, piece.id)
        kwargs = {"IfMatch": etag} if etag else {}
        try:
            return self.client.get_object(Bucket=self.staging_bucket, Key=key, **kwargs)
        except Exception as exc:
            if is_missing(exc):
                raise PieceMissingError(f"piece {piece.id} is not in staging at {key}") from None
            if etag and is_precondition_failed(exc):
                raise PieceChangedError(f"piece {piece.id} was replaced after it was verified") from None
            raise

    def _pack_limit(self, entries: Sequence[FileEntry]) -> int:
        return pack_limit(
            entries, self.config.pack_overhead_per_member_bytes, self.config.pack_overhead_bytes
        )

    # --- claim

    def _claim(self, manifest: Manifest) -> tuple[RunRecord, str] | None:
        """Take the run's timestamp; a timestamp taken by another run refuses this one, unless that
        run holds the very same files: then its record is returned, and this run is a repeat."""
        assert manifest.timestamp is not None
        key = claim_key(manifest.project_key, manifest.timestamp)
        claim = Claim.for_manifest(manifest)
        try:
            self.client.put_object(
                Bucket=self.archive_bucket, Key=key, Body=claim.to_json(), ContentType=_JSON,
                IfNoneMatch="*",
            )
            return None
        except Exception as exc:
            if not is_precondition_failed(exc):
                raise
        raw = self._get_small(self.archive_bucket, key)
        holder: Claim | None = None
        if raw is not None:
            try:
                holder = Claim.from_json(raw)
            except RecordInvalidError:
                holder = None
        if holder is not None and holder.run_id == manifest.run_id:
            return None
        if holder is not None and holder.content_sha256 == claim.content_sha256:
            record_key = run_record_key(manifest.project_key, manifest.timestamp, manifest.run_id)
            earlier = self._identical_filed(manifest, self._read_record(record_key), record_key)
            if earlier is not None:
                return earlier
            if not self._refused(manifest.project_key, holder.run_id):
                raise TimestampBusyError(
                    f"timestamp {manifest.timestamp} of project {manifest.project_key} is claimed by run "
                    f"{holder.run_id}, which holds the same files and is still being filed"
                )
        raise TimestampTakenError(
            f"timestamp {manifest.timestamp} of project {manifest.project_key} is already taken by "
            f"run {holder.run_id if holder else 'of an unreadable claim'}: upload again with another "
            "timestamp"
        )

    def _refused(self, project_key: str, run_id: str) -> bool:
        raw = self._get_small(self.staging_bucket, receipt_key(project_key, run_id))
        try:
            return raw is not None and not Receipt.from_json(raw).filed
        except ReceiptInvalidError:
            return False

    # --- a run uploaded again unchanged

    def _identical_filed(
        self, manifest: Manifest, record: RunRecord | None, record_key: str
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
            return (record, record_key) if self._same_files(manifest, record) else None
        return self._identical_untimestamped(manifest)

    @staticmethod
    def _same_files(manifest: Manifest, record: RunRecord) -> bool:
        return len(record.files) == len(manifest.files) and (
            content_sha256(record.files) == content_sha256(manifest.files))

    def _identical_untimestamped(self, manifest: Manifest) -> tuple[RunRecord, str] | None:
        first = manifest.files[0]
        head = self._head(self.archive_bucket,
                          archive_key(manifest.project_key, first.type, None, first.path))
        earlier = (head or {}).get("Metadata", {}).get(META_RUN_ID)
        if not earlier or earlier == manifest.run_id:
            return None
        try:
            record_key = run_record_key(manifest.project_key, None, earlier)
        except ContractError:  # metadata someone else wrote
            return None
        record = self._read_record(record_key)
        if record is None or record.run_id != earlier or not self._same_files(manifest, record):
            return None
        with ThreadPoolExecutor(self._workers(len(manifest.files)), "repeat") as pool:
            futures = _Futures()
            for entry in manifest.files:
                futures.add(pool.submit(self._holds, manifest, entry, earlier))
            holds = futures.wait()
        return (record, record_key) if all(holds) else None

    def _holds(self, manifest: Manifest, entry: FileEntry, run_id: str) -> bool:
        """Whether the entry's archive key still holds ``run_id``'s copy of the entry's bytes."""
        head = self._head(self.archive_bucket,
                          archive_key(manifest.project_key, entry.type, None, entry.path))
        if head is None:
            return False
        meta = head.get("Metadata", {})
        return (meta.get(META_RUN_ID) == run_id and meta.get(META_SHA256) == entry.sha256
                and int(head.get("ContentLength", -1)) == entry.size)

    def _answer_already_filed(
        self, location: ManifestLocation, key: str, manifest: Manifest, record: RunRecord, record_key: str
    ) -> Receipt:
        """Answer a repeat as filed, pointing at the earlier run: nothing is written to the archive,
        and staging is left clean, as after any filing."""
        self._clean(location)
        self._step("cleaned")
        receipt = Receipt(
            run_id=manifest.run_id,
            project_key=manifest.project_key,
            status="filed",
            timestamp=manifest.timestamp,
            archive_bucket=self.archive_bucket,
            run_record=record_key,
            prefixes=record.prefixes,
            files=len(record.files),
            bytes=record.bytes,
            at=now_iso(),
            extra={RECEIPT_ALREADY_FILED: True, RECEIPT_FILED_RUN_ID: record.run_id},
        )
        self._put_receipt(receipt)
        self._step("receipted")
        self._delete_staging([key])
        self._step("manifest-deleted")
        self.log.info(
            "run already filed with the same files: nothing written",
            extra={**self._identity(location), "filed_run_id": record.run_id,
                   "timestamp": manifest.timestamp},
        )
        return receipt

    # --- file

    def _file_all(
        self, manifest: Manifest, etags: dict[str, str], sources: dict[str, tuple[str, str]]
    ) -> None:
        """Copy blobs and reused files, stream packs into parallel puts; the first failure stops new
        work."""
        grouped = manifest.files_by_piece()
        packs = [p for p in manifest.pieces if p.kind == "pack"]
        budget = ByteBudget(self.config.max_in_flight_bytes, 2 * self.config.concurrency)
        work = _Futures(keep_results=False)
        pool = ThreadPoolExecutor(self.config.concurrency, "file")
        try:
            for piece in manifest.pieces:
                if piece.kind == "blob":
                    for entry in grouped[piece.id]:
                        work.add(pool.submit(self._copy_blob, manifest, piece, etags[piece.id], entry))
            for entry in manifest.reused:
                key, etag = sources[entry.sha256]
                work.add(pool.submit(self._copy_reused, manifest, entry, key, etag))
            with ThreadPoolExecutor(self._workers(len(packs), cap=4), "unpack") as unpack:
                for piece in packs:
                    work.add(unpack.submit(
                        self._file_pack, manifest, piece, grouped[piece.id], etags[piece.id], pool,
                        budget, work,
                    ))
            # Every pack reader has finished, so every put is registered by now.
            work.wait()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _file_pack(
        self,
        manifest: Manifest,
        piece: Piece,
        entries: Sequence[FileEntry],
        etag: str,
        pool: ThreadPoolExecutor,
        budget: ByteBudget,
        writes: _Futures,
    ) -> None:
        response = self._get_piece(manifest, piece, etag)
        with body_of(response) as body:
            members = read_pack(body, piece, entries, limit=self._pack_limit(entries),
                                chunk=self.config.read_chunk_bytes, keep=True)
            for entry, data in members:
                if writes.failed.is_set():
                    return
                assert data is not None
                size = len(data)
                budget.acquire(size)
                try:
                    future = pool.submit(self._put_member, manifest, entry, data)
                except BaseException:
                    budget.release(size)
                    raise
                future.add_done_callback(lambda _f, n=size: budget.release(n))
                writes.add(future)

    def _put_member(self, manifest: Manifest, entry: FileEntry, data: bytes) -> None:
        key = archive_key(manifest.project_key, entry.type, manifest.timestamp, entry.path)
        kwargs = {"IfNoneMatch": "*"} if manifest.timestamp is not None else {}
        try:
            self.client.put_object(
                Bucket=self.archive_bucket,
                Key=key,
                Body=data,
                ContentType=content_type(entry.path),
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=sha256_b64(entry.sha256),
                Metadata=archive_metadata(manifest, entry),
                Tagging=ARCHIVE_TAGGING,
                **kwargs,
            )
        except Exception as exc:
            if not (kwargs and is_precondition_failed(exc)):
                raise
            self._confirm_existing(manifest, entry, key)
        self._step("object-filed")

    def _copy_blob(self, manifest: Manifest, piece: Piece, etag: str, entry: FileEntry) -> None:
        source = {
            "Bucket": self.staging_bucket,
            "Key": piece_key(manifest.project_key, manifest.run_id, piece.id),
        }

        def changed() -> FilerRefusedError:
            return PieceChangedError(f"blob {piece.id} was replaced after it was verified")

        self._copy(manifest, entry, source, etag, changed)

    def _copy_reused(self, manifest: Manifest, entry: FileEntry, source_key: str, etag: str) -> None:
        """Copy an earlier run's archived copy to this run's key, as a blob from staging is copied."""

        def changed() -> FilerRefusedError:
            problem = f"the copy {source_key} changed after it was checked"
            return unavailable(manifest, {entry.sha256: problem})

        try:
            self._copy(manifest, entry, {"Bucket": self.archive_bucket, "Key": source_key}, etag, changed)
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
        self,
        manifest: Manifest,
        entry: FileEntry,
        source: dict[str, str],
        etag: str,
        changed: Callable[[], FilerRefusedError],
    ) -> None:
        """Copy ``source`` server-side to the entry's archive key with this run's metadata and tags.

        ``CopySourceIfMatch`` holds the source to what was verified; a source that changed anyway
        raises ``changed()``.
        """
        key = archive_key(manifest.project_key, entry.type, manifest.timestamp, entry.path)
        args: dict[str, Any] = {
            "CopySourceIfMatch": etag,
            "MetadataDirective": "REPLACE",
            "Metadata": archive_metadata(manifest, entry),
            "ContentType": content_type(entry.path),
            "TaggingDirective": "REPLACE",
            "Tagging": ARCHIVE_TAGGING,
            "ChecksumAlgorithm": "SHA256",
        }
        timestamped = manifest.timestamp is not None
        if entry.size > min(self.config.multipart_copy_threshold_bytes, _MAX_SINGLE_COPY):
            # A redelivery finds the copy done: one HEAD instead of copying it all again.
            if not (timestamped and self._head(self.archive_bucket, key) is not None):
                self._copy_in_parts(source, key, args, entry.size, timestamped, changed)
            if timestamped:
                self._confirm_existing(manifest, entry, key)
            self._step("object-filed")
            return
        try:
            response = self.client.copy_object(
                CopySource=source, Bucket=self.archive_bucket, Key=key,
                **args, **({"IfNoneMatch": "*"} if timestamped else {}),
            )
        except Exception as exc:
            if not is_precondition_failed(exc):
                raise
            # Either the key exists (an earlier attempt) or the source changed: tell which.
            if self._head(self.archive_bucket, key) is None:
                raise changed() from None
            self._confirm_existing(manifest, entry, key)
        else:
            written = response.get("CopyObjectResult", {}).get("ChecksumSHA256")
            if written is not None and written != sha256_b64(entry.sha256):
                # The source changed under a server that ignored CopySourceIfMatch: undo, refuse.
                self._undo_copy(key)
                raise changed()
        self._step("object-filed")

    def _copy_in_parts(
        self,
        source: dict[str, str],
        key: str,
        args: dict[str, Any],
        size: int,
        timestamped: bool,
        changed: Callable[[], FilerRefusedError],
    ) -> None:
        """A multipart copy completed with ``IfNoneMatch='*'`` (timestamped keys).

        s3transfer's copy cannot make its completion conditional, and a HEAD before it does not
        stop two deliveries of the same message copying at once: both saw no object, both wrote
        one, a second version. Completing conditionally, the slower one gets a 412 (the caller
        then confirms the object is this run's) and its parts are discarded.
        """
        create = {k: args[k] for k in ("Metadata", "ContentType", "Tagging", "ChecksumAlgorithm")}
        upload_id = self.client.create_multipart_upload(Bucket=self.archive_bucket, Key=key, **create)[
            "UploadId"]
        chunk = self.config.multipart_copy_chunk_bytes
        ranges = [(n, first, min(first + chunk, size) - 1)
                  for n, first in enumerate(range(0, size, chunk), 1)]
        completing = False
        try:
            with ThreadPoolExecutor(self._workers(len(ranges), cap=16), "copy-part") as pool:
                futures = _Futures()
                for number, first, last in ranges:
                    futures.add(pool.submit(self._copy_part, source, key, upload_id, number, first, last,
                                            args["CopySourceIfMatch"]))
                parts = futures.wait()
            completing = True
            self.client.complete_multipart_upload(
                Bucket=self.archive_bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts},
                **({"IfNoneMatch": "*"} if timestamped else {}),
            )
        except Exception as exc:
            self._abort_upload(key, upload_id)
            if is_precondition_failed(exc):
                if completing and timestamped:
                    return  # another attempt of this run completed first; the caller confirms it
                raise changed() from None
            if completing and timestamped and error_code(exc) == "NoSuchUpload":
                return  # a completion retried after its answer was lost; the caller confirms it
            raise

    def _copy_part(self, source: dict[str, str], key: str, upload_id: str, number: int, first: int,
                   last: int, etag: str) -> dict[str, Any]:
        response = self.client.upload_part_copy(
            Bucket=self.archive_bucket, Key=key, UploadId=upload_id, PartNumber=number,
            CopySource=source, CopySourceRange=f"bytes={first}-{last}", CopySourceIfMatch=etag,
        )
        result = response["CopyPartResult"]
        part = {"PartNumber": number, "ETag": result["ETag"]}
        if result.get("ChecksumSHA256"):
            part["ChecksumSHA256"] = result["ChecksumSHA256"]
        return part

    def _abort_upload(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.archive_bucket, Key=key, UploadId=upload_id)
        except Exception as exc:  # the bucket's lifecycle rule aborts what is left behind
            self.log.warning("could not abort a multipart copy", extra={"key": key, "error": str(exc)})

    def _undo_copy(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.archive_bucket, Key=key)
        except Exception as exc:  # the filer's role may not delete in the archive: leave it, say so
            self.log.error("could not remove a copy of a changed blob", extra={"key": key, "error": str(exc)})

    def _confirm_existing(self, manifest: Manifest, entry: FileEntry, key: str) -> None:
        """A timestamped key already exists: only an earlier attempt of this run may have written it."""
        head = self._head(self.archive_bucket, key)
        if head is None:  # deleted in between: a human is tidying up; try again later
            raise ArchiveChangedError(f"archive object {key} vanished while being confirmed")
        if not same_run(head.get("Metadata", {}), manifest, entry):
            raise ArchiveConflictError(
                f"archive key {key} already holds an object that run {manifest.run_id} did not write"
            )

    # --- record, index, clean, receipt

    def _index(self, manifest: Manifest) -> None:
        """Offer the run's large files for reuse by the project's next runs (best effort).

        Runs again on a redelivery that finds the run already recorded, so a filer killed before this
        step still indexes the run; merging the same files twice changes nothing but the dates.
        """
        blob_ids = [p.id for p in manifest.pieces if p.kind == "blob"]
        files = indexed_files(manifest, blob_ids, now_iso())
        if not files:
            return
        try:
            update_index(self.client, self.staging_bucket, manifest.project_key,
                         lambda index: index.merged(files, updated_at=now_iso(),
                                                    max_age_days=self.config.reuse_max_age_days))
        except Exception as exc:  # a missing entry costs the next run a re-send, never a filing
            self.log.warning("could not update the reuse index",
                             extra={"project_key": manifest.project_key, "error": str(exc)})

    def _write_record(self, manifest: Manifest, key: str) -> None:
        # Written file by file into a spooled file: a large run's record goes through /tmp rather
        # than memory, so the filer's memory stays flat as runs grow.
        with tempfile.SpooledTemporaryFile(max_size=_RECORD_SPOOL_BYTES) as body:
            write_run_record(manifest, body)
            body.seek(0)
            try:
                self.client.put_object(
                    Bucket=self.archive_bucket, Key=key, Body=body, ContentType=_JSON, IfNoneMatch="*",
                )
                return
            except Exception as exc:
                if not is_precondition_failed(exc):
                    raise
        existing = self._read_record(key)
        if existing is None or existing.run_id != manifest.run_id:
            raise ArchiveConflictError(f"run record {key} belongs to another run")

    def _clean(self, location: ManifestLocation) -> None:
        keys = [k for k in self._list(self.staging_bucket, staging_run_prefix(
            location.project_key, location.run_id)) if not k.endswith("/" + MANIFEST_NAME)]
        self._delete_staging(keys)

    def _filed_receipt(self, manifest: Manifest, record_key: str) -> Receipt:
        head = run_record_head(manifest)
        return Receipt(
            run_id=manifest.run_id,
            project_key=manifest.project_key,
            status="filed",
            timestamp=manifest.timestamp,
            archive_bucket=self.archive_bucket,
            run_record=record_key,
            prefixes=tuple(head["prefixes"]),
            files=head["file_count"],
            bytes=head["bytes"],
            at=now_iso(),
            extra=_reuse_counts(manifest),
        )

    def _put_receipt(self, receipt: Receipt) -> None:
        self.client.put_object(
            Bucket=self.staging_bucket,
            Key=receipt_key(receipt.project_key, receipt.run_id),
            Body=receipt.to_json(),
            ContentType=_JSON,
        )

    # --- refusal

    def _refuse(self, location: ManifestLocation, refusal: FilerRefusedError) -> None:
        receipt = Receipt(
            run_id=location.run_id,
            project_key=location.project_key,
            status="refused",
            archive_bucket=self.archive_bucket,
            code=refusal.code,
            reason=refusal.reason,
            at=now_iso(),
        )
        self._put_receipt(receipt)
        refusal.receipt = receipt
        self._step("refusal-receipted")
        self._quarantine(location)
        self._step("quarantined")
        self.log.warning(
            "run refused",
            extra={**self._identity(location), "code": refusal.code, "reason": refusal.reason},
        )

    def _quarantine(self, location: ManifestLocation) -> None:
        """Move the run's staging objects aside, the manifest last so a retry still finds the run."""
        objects = self._list_sizes(self.staging_bucket, staging_run_prefix(
            location.project_key, location.run_id))
        manifest = [(k, s) for k, s in objects if k.endswith("/" + MANIFEST_NAME)]
        pieces = [(k, s) for k, s in objects if not k.endswith("/" + MANIFEST_NAME)]
        for batch in (pieces, manifest):
            if not batch:
                continue
            with ThreadPoolExecutor(self._workers(len(batch)), "quarantine") as pool:
                futures = _Futures()
                for key, size in batch:
                    futures.add(pool.submit(self._move, key, size))
                futures.wait()

    def _move(self, key: str, size: int) -> None:
        target = quarantine_key(key)
        source = {"Bucket": self.staging_bucket, "Key": key}
        if size > _MAX_SINGLE_COPY:
            self.client.copy(source, self.staging_bucket, target, Config=self._transfer)
        else:
            self.client.copy_object(CopySource=source, Bucket=self.staging_bucket, Key=target)
        self.client.delete_object(Bucket=self.staging_bucket, Key=key)

    # ------------------------------------------------------------------ plumbing

    def _workers(self, items: int, cap: int | None = None) -> int:
        return max(1, min(items, cap or self.config.concurrency, self.config.concurrency))

    def _reread(self, read: Callable[[], _T]) -> _T:
        """Run ``read`` again (from the start) when its answer was cut off, a few times."""
        for attempt in range(1, _READ_ATTEMPTS + 1):
            try:
                return read()
            except _CUT_OFF as exc:
                if attempt == _READ_ATTEMPTS:
                    raise
                self.log.warning("a read was cut off, reading again", extra={"error": str(exc)})
        raise AssertionError("unreachable")

    def _get_small(self, bucket: str, key: str) -> bytes | None:
        return self._reread(lambda: self._get_small_once(bucket, key))

    def _get_small_once(self, bucket: str, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if is_missing(exc):
                return None
            raise
        with body_of(response) as body:
            return body.read()

    def _head(self, bucket: str, key: str) -> dict[str, Any] | None:
        try:
            return self.client.head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if is_missing(exc):
                return None
            raise

    def _list_sizes(self, bucket: str, prefix: str) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found.extend((o["Key"], int(o.get("Size", 0))) for o in page.get("Contents", []))
        return found

    def _list(self, bucket: str, prefix: str) -> list[str]:
        return [k for k, _ in self._list_sizes(bucket, prefix)]

    def _delete_staging(self, keys: Iterable[str]) -> None:
        batch: list[str] = []
        for key in keys:
            batch.append(key)
            if len(batch) == _DELETE_BATCH:
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    def _delete_batch(self, keys: list[str]) -> None:
        response = self.client.delete_objects(
            Bucket=self.staging_bucket,
            Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
        )
        errors = [e for e in response.get("Errors", []) if e.get("Code") != "NoSuchKey"]
        if errors:
            raise StagingCleanError(
                f"could not delete {len(errors)} staging object(s), e.g. {errors[0].get('Key')}: "
                f"{errors[0].get('Code')} {errors[0].get('Message')}"
            )

