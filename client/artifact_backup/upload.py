"""Sending a run to staging and waiting for the filer's answer (docs/protocol.md, client side).

Requests are the budget that matters: a fresh run of 2,000 small files costs one PUT per pack (one
pack up to 64 MiB of input), one PUT for the manifest and a few receipt polls. Only a resumed run
LISTs its staging prefix (once) to learn which pieces are already there; a fresh run id cannot have
any.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import platform
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artifact_contract import (
    ContractError,
    FileEntry,
    Manifest,
    Piece,
    Receipt,
    ReceiptInvalidError,
    RefusalCode,
    Reuse,
    ReuseIndex,
    ReuseIndexInvalidError,
    archive_prefix,
    blob_piece_id,
    blob_slot_id,
    build_manifest,
    format_timestamp,
    manifest_key,
    pack_piece_id,
    piece_key,
    receipt_key,
    reuse_index_key,
    staging_run_prefix,
    validate_timestamp,
)
from artifact_contract.s3 import (
    CONFLICT_CODES,
    DENIED_CODES,
    MISSING_CODES,
    PRECONDITION_CODES,
    error_code,
    is_aws_error,
    now_iso,
)

from ._version import __version__ as CLIENT_VERSION
from .aws import make_s3_client, translate_error
from .collect import DroppedFile, LocalFile, Selection, collect
from .config import Settings
from .exceptions import (
    ArgumentInvalidError,
    ArtifactBackupError,
    FileChangedError,
    ReceiptTimeoutError,
    ReceiptUnreadableError,
    RunRefusedError,
)
from .journal import Journal, JournalEntry, fingerprint
from .pack import PiecePlan, hash_file, plan_pieces, write_pack
from .transfer import BaseSubscriber, Notifier, UploadConfig

log = logging.getLogger("artifact_backup")

CLIENT_NAME = "artifact-backup"


@dataclass(frozen=True)
class BackupRequest:
    """What to back up, as the user guide's command line says it.

    ``timestamp``: ``True`` stamps the run with the current time (``--timestamp``), a
    ``YYYYMMDD_HHMM`` string uses that stamp (``--custom-timestamp``), ``False`` files the run
    without a timestamp level.
    """

    folder: str | os.PathLike[str]
    project_key: str | None = None
    include: Sequence[str] | None = None
    folder_type: str | None = None
    timestamp: bool | str = False
    config_path: str | os.PathLike[str] | None = None

    def timestamp_choice(self) -> tuple[str, str | None]:
        """(mode, value): ``("none", None)``, ``("now", None)`` or ``("custom", "20251030_1200")``."""
        if self.timestamp is True:
            return "now", None
        if self.timestamp is False or self.timestamp is None:
            return "none", None
        try:
            return "custom", validate_timestamp(str(self.timestamp))
        except ContractError as exc:
            raise ArgumentInvalidError(f"--custom-timestamp: {exc}") from None


@dataclass
class UploadResult:
    """What happened to one backup: filed, committed (not waited for), a dry run, or skipped."""

    status: str
    project_key: str | None = None
    run_id: str | None = None
    timestamp: str | None = None
    archive_bucket: str | None = None
    staging_bucket: str | None = None
    types: tuple[str, ...] = ()
    files: int = 0
    bytes: int = 0
    files_per_type: dict[str, int] = field(default_factory=dict)
    dropped: tuple[DroppedFile, ...] = ()
    warnings: tuple[str, ...] = ()
    pieces: int = 0
    pieces_sent: int = 0
    pieces_skipped: int = 0
    bytes_sent: int = 0
    #: Large files not sent because the archive already holds them (skip-unchanged).
    files_reused: int = 0
    bytes_reused: int = 0
    #: The filer could not reuse an earlier copy, so the run was sent again with every file;
    #: ``bytes_sent`` counts both attempts.
    resent: bool = False
    resumed: bool = False
    already_committed: bool = False
    receipt: Receipt | None = None
    reason: str | None = None
    plan: PiecePlan | None = None
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in ("filed", "committed", "dry-run", "skipped")

    @property
    def already_filed(self) -> bool:
        """The archive already held this very run (same files at the same place), filed by an earlier
        upload: a repeated command, answered as filed without writing anything."""
        return self.receipt is not None and self.receipt.already_filed

    @property
    def filed_run_id(self) -> str | None:
        """The run id whose files the archive holds: the earlier upload's when ``already_filed``."""
        return self.receipt.filed_run_id if self.receipt is not None else None

    def archive_prefixes(self) -> list[str]:
        """The archive folders of this run, as the filer reported them or as the layout puts them."""
        if self.receipt is not None and self.receipt.prefixes:
            return list(self.receipt.prefixes)
        if not self.project_key or self.status == "skipped":
            return []
        types = [t for t in self.types if self.files_per_type.get(t)] or list(self.types)
        return [archive_prefix(self.project_key, t, self.timestamp) for t in types]

    def archive_urls(self) -> list[str]:
        bucket = (self.receipt.archive_bucket if self.receipt else None) or self.archive_bucket
        return [p if p.startswith("s3://") else f"s3://{bucket}/{p}" for p in self.archive_prefixes()]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "status": self.status,
            "project_key": self.project_key,
            "run_id": self.run_id,
            "timestamp": self.timestamp,
            "archive_bucket": self.archive_bucket,
            "staging_bucket": self.staging_bucket,
            "types": list(self.types),
            "files": self.files,
            "bytes": self.bytes,
            "files_per_type": dict(self.files_per_type),
            "dropped": [d.to_dict() for d in self.dropped],
            "warnings": list(self.warnings),
            "pieces": self.pieces,
            "pieces_sent": self.pieces_sent,
            "pieces_skipped": self.pieces_skipped,
            "bytes_sent": self.bytes_sent,
            "files_reused": self.files_reused,
            "bytes_reused": self.bytes_reused,
            "resent": self.resent,
            "resumed": self.resumed,
            "already_committed": self.already_committed,
            "already_filed": self.already_filed,
            "filed_run_id": self.filed_run_id,
            "archive_urls": self.archive_urls(),
            "receipt": self.receipt.to_dict() if self.receipt else None,
            "reason": self.reason,
            "elapsed_seconds": round(self.elapsed, 3),
        }
        if self.plan is not None:
            data["plan"] = self.plan.to_dict()
        return data


@dataclass
class _SendOutcome:
    files: list[FileEntry]
    pieces: dict[str, Piece]
    sent: int = 0
    skipped: int = 0
    bytes_sent: int = 0
    reused: int = 0
    reused_bytes: int = 0


class Uploader:
    """Backs runs up to one staging bucket; reusable for many runs.

    :param settings: from :func:`artifact_backup.load_config` (buckets, AWS options, tuning).
    :param client: a boto3 S3 client; made from ``settings`` on first use when omitted.
    :param config: tuning; defaults to ``settings.transfer``.
    :param subscribers: progress receivers (:class:`BaseSubscriber`).
    :param journal: where resume state lives; ``NullJournal()`` disables resuming.
    :param sleep, clock: injectable for tests of the receipt wait.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        client: Any = None,
        config: UploadConfig | None = None,
        subscribers: Iterable[BaseSubscriber] = (),
        journal: Journal | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.config = config or settings.transfer
        self._client = client
        self._notify = Notifier(subscribers)
        self.journal = journal if journal is not None else Journal()
        self._sleep = sleep
        self._clock = clock

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_s3_client(self.settings)
        return self._client

    # -- the whole run ----------------------------------------------------------------------------

    def collect(self, request: BackupRequest) -> Selection:
        return collect(
            request.folder,
            settings=self.settings,
            include=request.include,
            folder_type=request.folder_type,
            config_path=request.config_path if request.config_path is not None else self.settings.config_path,
        )

    def backup(
        self,
        request: BackupRequest,
        *,
        wait: bool = True,
        dry_run: bool = False,
        wait_timeout: float | None = None,
        skip_unchanged: bool | None = None,
    ) -> UploadResult:
        """Collect, send, commit and (by default) wait until the filer has filed the run.

        Raises :class:`RunRefusedError` when the filer refuses it and :class:`ReceiptTimeoutError`
        when its receipt does not come in time (the run stays committed; re-running the same command
        waits again without re-sending).

        :param skip_unchanged: large files the archive already holds (same SHA-256 and size, by the
            project's reuse index) are not sent; the filer copies its earlier copy into this run.
            Default: ``config.skip_unchanged``. If the filer finds an earlier copy gone, the run is
            sent again in full, automatically, under the same timestamp. Only a run that waits for
            its receipt skips anything: without waiting, nobody would be there to send it again.
        """
        if skip_unchanged is None:
            skip_unchanged = self.config.skip_unchanged
        started = self._clock()
        project_key = self.settings.resolve_project_key(request.project_key)
        mode, custom = request.timestamp_choice()
        archive = self.settings.require_archive_bucket()
        staging = self.settings.require_staging_bucket()
        selection = self.collect(request)
        self._notify("on_collected", selection=selection)
        plan = plan_pieces(selection.files, self.config)
        self._notify("on_planned", plan=plan)
        result = UploadResult(
            status="dry-run",
            project_key=project_key,
            timestamp=custom if mode == "custom" else None,
            archive_bucket=archive,
            staging_bucket=staging,
            types=selection.types,
            files=len(selection.files),
            bytes=selection.total_bytes,
            files_per_type=selection.files_per_type(),
            dropped=selection.dropped,
            warnings=selection.warnings,
            pieces=len(plan.packs) + len({f.location for f in plan.blobs}),
        )
        if dry_run:
            result.plan = plan
            if mode == "now":
                result.timestamp = format_timestamp()
            result.elapsed = self._clock() - started
            return result

        journal_key = Journal.key(
            staging_bucket=staging,
            project_key=project_key,
            folder=selection.folder,
            types=selection.types,
            folder_type=selection.folder_type,
            timestamp_mode=mode,
            timestamp_value=custom,
        )
        fp = fingerprint(selection.files)
        entry = self.journal.load(journal_key, max_age=self.config.resume_max_age)
        if entry is not None and entry.fingerprint == fp:
            result.resumed = True
        else:
            entry = JournalEntry(
                run_id=uuid.uuid4().hex,
                timestamp=format_timestamp() if mode == "now" else custom,
                fingerprint=fp,
                created=time.time(),
            )
            self.journal.save(journal_key, entry)
        result.run_id, result.timestamp = entry.run_id, entry.timestamp

        try:
            receipt = None
            committed = entry.committed
            if result.resumed:
                try:
                    receipt = self._get_receipt(staging, project_key, entry.run_id)
                except _PollCutOff:
                    receipt = None  # looked for again while waiting
            if receipt is None and not committed:
                existing = self._list_run(staging, project_key, entry.run_id) if result.resumed else {}
                committed = manifest_key(project_key, entry.run_id) in existing
                if committed:
                    result.already_committed = True
                    self._notify("on_committed", run_id=entry.run_id, already=True)
                else:
                    reusable = (
                        self._reuse_index(staging, project_key) if skip_unchanged and wait and plan.blobs
                        else None
                    )
                    outcome = self._send_pieces(staging, project_key, entry.run_id, plan, existing, reusable)
                    result.files_reused, result.bytes_reused = outcome.reused, outcome.reused_bytes
                    result.pieces = len(outcome.pieces)
                    result.pieces_sent, result.pieces_skipped = outcome.sent, outcome.skipped
                    result.bytes_sent = outcome.bytes_sent
                    manifest = build_manifest(
                        run_id=entry.run_id,
                        project_key=project_key,
                        timestamp=entry.timestamp,
                        archive_bucket=archive,
                        created_at=now_iso(),
                        files=outcome.files,
                        pieces=outcome.pieces.values(),
                        uploader=self._uploader_info(),
                        config_sha256=_sha256_of(selection.config_source),
                    )
                    result.already_committed = self.commit(staging, manifest)
                committed = True
                self.journal.save(journal_key, _committed(entry))
            elif receipt is None and committed:
                result.already_committed = True
            if receipt is None and not wait:
                self.journal.clear(journal_key)
                result.status = "committed"
                result.elapsed = self._clock() - started
                return result
            if receipt is None:
                receipt = self.wait_for_receipt(staging, project_key, entry.run_id, timeout=wait_timeout)
        except ContractError as exc:
            raise ArtifactBackupError(f"the run breaks the contract: {exc}") from None
        except ArtifactBackupError:
            raise
        except Exception as exc:
            if is_aws_error(exc):
                raise translate_error(exc, bucket=staging) from None
            raise

        self.journal.clear(journal_key)
        result.receipt = receipt
        result.elapsed = self._clock() - started
        if receipt.filed:
            result.status = "filed"
            if receipt.timestamp:
                result.timestamp = receipt.timestamp
            return result
        if receipt.code == RefusalCode.REUSE_UNAVAILABLE and skip_unchanged:
            return self._send_again_in_full(request, result, started, wait=wait, wait_timeout=wait_timeout)
        result.status = "refused"
        result.reason = receipt.reason
        raise RunRefusedError(
            f"the filer refused run {receipt.run_id} of {project_key}: {receipt.reason or 'no reason given'}"
            + (f" ({receipt.code})" if receipt.code else ""),
            receipt=receipt,
            result=result,
            hint=_refusal_hint(receipt, staging, selection.folder),
        )

    def _send_again_in_full(
        self,
        request: BackupRequest,
        refused: UploadResult,
        started: float,
        *,
        wait: bool,
        wait_timeout: float | None,
    ) -> UploadResult:
        """The filer could not copy a file this run skipped (its earlier copy was deleted, changed or
        moved to Glacier): send the run again, every file included, as a new run under the same
        timestamp. The refusal came from the verify pass, before the timestamp was claimed, so the
        user sees one complete run and no failure."""
        log.info(
            "run %s of %s: the archive no longer holds an earlier copy of a skipped file (%s); "
            "sending the run again in full",
            refused.run_id, refused.project_key, refused.receipt.reason if refused.receipt else "",
        )
        again = dataclasses.replace(request, project_key=refused.project_key,
                                    timestamp=refused.timestamp or False)
        result = self.backup(again, wait=wait, wait_timeout=wait_timeout, skip_unchanged=False)
        result.resent = True
        result.bytes_sent += refused.bytes_sent
        result.elapsed = self._clock() - started
        return result

    def _reuse_index(self, bucket: str, project_key: str) -> ReuseIndex | None:
        """The project's reuse index (one GET); None when there is none or it cannot be read.

        Skipping unchanged files only saves time, so nothing here ever fails an upload: an index
        that is missing, unreadable or not permitted (an uploader policy from before the index)
        just means every file is sent.
        """
        key = reuse_index_key(project_key)
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
            raw = response["Body"].read()
        except Exception as exc:
            if error_code(exc) not in MISSING_CODES | DENIED_CODES:
                log.warning("the reuse index s3://%s/%s cannot be read (%s): sending every file",
                            bucket, key, exc)
            return None
        try:
            return ReuseIndex.from_json(raw, project_key)
        except ReuseIndexInvalidError as exc:
            log.warning("the reuse index s3://%s/%s is unreadable (%s): sending every file", bucket, key, exc)
            return None

    # -- steps ------------------------------------------------------------------------------------

    def _uploader_info(self) -> dict[str, str]:
        return {
            "client": f"{CLIENT_NAME}/{CLIENT_VERSION}",
            "host": platform.node() or "unknown",
            "python": platform.python_version(),
        }

    def _list_run(self, bucket: str, project_key: str, run_id: str) -> dict[str, int]:
        """Every object under the run's staging prefix with its size: one request per 1,000 keys."""
        prefix = staging_run_prefix(project_key, run_id)
        found: dict[str, int] = {}
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        while True:
            try:
                page = self.client.list_objects_v2(**kwargs)
            except Exception as exc:
                raise translate_error(exc, bucket=bucket, action="listing the staging prefix") from None
            for obj in page.get("Contents", []):
                found[obj["Key"]] = int(obj["Size"])
            if not page.get("IsTruncated"):
                return found
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def _send_pieces(
        self,
        bucket: str,
        project_key: str,
        run_id: str,
        plan: PiecePlan,
        existing: dict[str, int],
        reusable: ReuseIndex | None = None,
    ) -> _SendOutcome:
        """Build and send the packs, send the blobs; a blob whose content ``reusable`` lists (same
        SHA-256 and size) is not sent but listed for reuse, unless a resumed attempt already sent
        it.

        A large file whose size neither the index nor another large file of the run has can be
        neither reused nor shared, so it is not hashed before it is sent: it goes at once under its
        name's slot (:func:`blob_slot_id`) while a second reader hashes it, and the hash, which the
        filer verifies, travels in the manifest. Hashing first would add a full read of the file
        to the upload's time. Any other large file is hashed first and named by its content."""
        from s3transfer.subscribers import BaseSubscriber as S3Subscriber

        cfg = self.config
        notify = self._notify
        outcome = _SendOutcome(files=[], pieces={})
        lock = threading.Lock()

        class Progress(S3Subscriber):
            def __init__(self, piece: Piece | Callable[[], Piece], size: int, cleanup: Path | None) -> None:
                # A blob sent while being hashed becomes a Piece once its hash is known.
                self.piece, self.size, self.cleanup = piece, size, cleanup

            def on_queued(self, future: Any, **kwargs: Any) -> None:
                future.meta.provide_transfer_size(self.size)

            def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
                with lock:
                    outcome.bytes_sent += bytes_transferred
                notify("on_bytes_sent", amount=bytes_transferred)

            def on_done(self, future: Any, **kwargs: Any) -> None:
                if self.cleanup is not None:
                    self.cleanup.unlink(missing_ok=True)
                try:
                    future.result()
                except BaseException:  # noqa: S110 - the caller's future.result() raises it
                    return
                with lock:
                    outcome.sent += 1
                try:
                    piece = self.piece if isinstance(self.piece, Piece) else self.piece()
                except BaseException:  # noqa: S110 - the hash's failure is raised by the caller
                    return
                notify("on_piece_done", piece=piece, skipped=False)

        def in_staging(piece: Piece) -> bool:
            return existing.get(piece_key(project_key, run_id, piece.id)) == piece.size

        def already_there(piece: Piece) -> bool:
            if existing.get(piece_key(project_key, run_id, piece.id)) == piece.size:
                outcome.skipped += 1
                notify("on_piece_done", piece=piece, skipped=True)
                return True
            return False

        # S3 checks every part against this checksum on arrival. CRC32 is computed at twice the
        # speed of SHA-256 here, and the file's SHA-256 (taken by the client, carried in the
        # manifest) is what the filer verifies before filing, so a second SHA-256 of every part
        # would buy nothing.
        extra = {"ChecksumAlgorithm": "CRC32"}
        temp_files: list[Path] = []
        pending_packs: deque[Any] = deque()
        transfers: list[Any] = []
        pool = ThreadPoolExecutor(max_workers=cfg.hash_workers, thread_name_prefix="artifact-hash")
        try:

            def hashed(f: LocalFile) -> Callable[[Future[str]], None]:
                def done(fut: Future[str]) -> None:
                    if fut.exception() is None:
                        notify("on_file_hashed", path=f.member_name, size=f.size)

                return done

            # Hashed first: a file of a size that the index or another large file of the run has,
            # which may be reused or travel once for both. Every hash starts before the S3 client
            # is made: a third of a second of start-up the hashing runs beside.
            sizes = Counter(f.size for f in plan.blobs)
            hash_first = {size for size, n in sizes.items() if n > 1}
            hash_first |= reusable.sizes() if reusable is not None else frozenset()
            blob_hashes: list[tuple[LocalFile, Future[str], str | None]] = []
            for f in plan.blobs:
                fut = pool.submit(hash_file, f, cfg.hash_chunksize)
                fut.add_done_callback(hashed(f))
                blob_hashes.append((f, fut, None if f.size in hash_first else blob_slot_id(f.member_name)))

            with self._transfer_manager() as manager:
                for f, fut, slot in blob_hashes:
                    if slot is None or existing.get(piece_key(project_key, run_id, slot)) == f.size:
                        continue  # hashed first, or sent by an earlier attempt
                    transfers.append(
                        manager.upload(
                            f.location,
                            bucket,
                            piece_key(project_key, run_id, slot),
                            extra_args=extra,
                            subscribers=[Progress(_slot_piece(slot, f, fut), f.size, None)],
                        )
                    )

                for members in plan.packs:
                    while len(pending_packs) >= cfg.max_pending_packs:
                        pending_packs.popleft().result()
                    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives until uploaded
                        prefix="artifact-pack-", suffix=".tar.gz", dir=cfg.temp_dir, delete=False
                    )
                    path = Path(handle.name)
                    temp_files.append(path)
                    try:
                        packed = write_pack(
                            members,
                            handle,
                            compress_level=cfg.compress_level,
                            chunksize=cfg.hash_chunksize,
                            on_file=lambda f: notify("on_file_hashed", path=f.member_name, size=f.size),
                        )
                    finally:
                        handle.close()
                    piece = Piece(pack_piece_id(packed.sha256), "pack", packed.size, packed.sha256)
                    outcome.pieces[piece.id] = piece
                    outcome.files.extend(
                        FileEntry(f.type, f.path, f.size, sha, piece.id)
                        for f, sha in zip(members, packed.file_sha256, strict=True)
                    )
                    if already_there(piece):
                        path.unlink(missing_ok=True)
                        continue
                    future = manager.upload(
                        str(path),
                        bucket,
                        piece_key(project_key, run_id, piece.id),
                        extra_args=extra,
                        subscribers=[Progress(piece, packed.size, path)],
                    )
                    pending_packs.append(future)
                    transfers.append(future)

                for f, fut, slot in blob_hashes:
                    sha = fut.result()
                    if slot is not None:
                        piece = Piece(slot, "blob", f.size, sha)
                        outcome.files.append(FileEntry(f.type, f.path, f.size, sha, piece.id))
                        outcome.pieces[piece.id] = piece
                        already_there(piece)
                        continue
                    piece = Piece(blob_piece_id(sha), "blob", f.size, sha)
                    if (
                        reusable is not None
                        and piece.id not in outcome.pieces
                        and not in_staging(piece)
                        and reusable.lookup(sha, f.size) is not None
                    ):
                        outcome.files.append(FileEntry(f.type, f.path, f.size, sha, None, Reuse(sha)))
                        outcome.reused += 1
                        outcome.reused_bytes += f.size
                        notify("on_file_reused", path=f.member_name, size=f.size)
                        continue
                    outcome.files.append(FileEntry(f.type, f.path, f.size, sha, piece.id))
                    if piece.id in outcome.pieces:
                        continue
                    outcome.pieces[piece.id] = piece
                    if already_there(piece):
                        continue
                    transfers.append(
                        manager.upload(
                            f.location,
                            bucket,
                            piece_key(project_key, run_id, piece.id),
                            extra_args=extra,
                            subscribers=[Progress(piece, f.size, None)],
                        )
                    )
                for future in transfers:
                    future.result()
        except ArtifactBackupError:
            raise
        except Exception as exc:
            if is_aws_error(exc):
                raise translate_error(exc, bucket=bucket, action="sending the run's pieces") from None
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            for path in temp_files:
                path.unlink(missing_ok=True)
        for f, fut, slot in blob_hashes:
            if slot is not None and _moved(f):
                self._send_again_hashed(bucket, piece_key(project_key, run_id, slot), f, fut.result(), extra)
            _check_unchanged(f, fut.result(), cfg.hash_chunksize)
        return outcome

    def _transfer_manager(self) -> Any:
        """s3transfer's manager with our part size and concurrency, reading files strictly."""
        from s3transfer.manager import TransferConfig, TransferManager

        config = TransferConfig(
            multipart_threshold=self.config.multipart_threshold,
            multipart_chunksize=self.config.multipart_chunksize,
            max_request_concurrency=self.config.max_concurrency,
        )
        return TransferManager(self.client, config, osutil=_strict_osutil())

    def _send_again_hashed(
        self, bucket: str, key: str, f: LocalFile, sha256: str, extra: dict[str, str]
    ) -> None:
        """Send a blob again after its file moved while it was sent and hashed at once.

        Two readers that overlap a change may each have read a different version of the file, and
        the filer would refuse the run as corrupt. Appending to a live log leaves the hashed bytes
        as they were; so, if the file still holds the bytes hashed, they are sent again, now after
        the hash, and :func:`_check_unchanged` judges any later change as it does for every blob.
        """
        if hash_file(f, self.config.hash_chunksize) != sha256:
            raise _changed_while_sent(f)
        log.info("%s changed while it was sent; sending it again", f.source)
        try:
            with self._transfer_manager() as manager:
                # The size listed, not the file's size now: a live log sends what was hashed.
                listed = [_ListedSize(f.size)]
                manager.upload(f.location, bucket, key, extra_args=extra, subscribers=listed).result()
        except Exception as exc:
            if is_aws_error(exc):
                raise translate_error(exc, bucket=bucket, action="sending a changed file again") from None
            raise

    def commit(self, bucket: str, manifest: Manifest) -> bool:
        """Put the manifest, which commits the run; returns True when it was already committed.

        ``IfNoneMatch='*'`` makes the manifest immutable: a 412 means an earlier attempt of this very
        run committed it, which is success.
        """
        key = manifest_key(manifest.project_key, manifest.run_id)
        body = manifest.to_json()
        for attempt in range(4):
            try:
                self.client.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=body,
                    IfNoneMatch="*",
                    ContentType="application/json",
                    ChecksumAlgorithm="SHA256",
                )
            except Exception as exc:
                code = error_code(exc)
                if code in PRECONDITION_CODES:
                    self._notify("on_committed", run_id=manifest.run_id, already=True)
                    return True
                if code in CONFLICT_CODES and attempt < 3:
                    self._sleep(0.2 * (attempt + 1))
                    continue
                raise translate_error(exc, bucket=bucket, action="committing the manifest") from None
            break
        self._notify("on_committed", run_id=manifest.run_id, already=False)
        return False

    def _get_receipt(self, bucket: str, project_key: str, run_id: str) -> Receipt | None:
        key = receipt_key(project_key, run_id)
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
            raw = response["Body"].read()
        except Exception as exc:
            code = error_code(exc)
            if code in MISSING_CODES:
                return None
            if code in DENIED_CODES:
                # Without s3:ListBucket on receipts/, S3 answers 403 for a key that does not exist yet.
                self._receipt_denied = True
                return None
            if _cut_off(exc):
                raise _PollCutOff(exc) from exc
            raise translate_error(exc, bucket=bucket, action="reading the receipt") from None
        try:
            receipt = Receipt.from_json(raw)
        except (ReceiptInvalidError, KeyError, TypeError, ValueError) as exc:
            raise ReceiptUnreadableError(f"the receipt s3://{bucket}/{key} cannot be read: {exc}") from None
        if receipt.run_id != run_id:
            raise ReceiptUnreadableError(
                f"the receipt s3://{bucket}/{key} names another run ({receipt.run_id})"
            )
        return receipt

    def wait_for_receipt(
        self, bucket: str, project_key: str, run_id: str, *, timeout: float | None = None
    ) -> Receipt:
        """Poll for the filer's receipt: short pauses first (filing small runs takes seconds), then
        growing ones up to ``poll_max``, until ``timeout`` (default ``config.wait_timeout``)."""
        timeout = self.config.wait_timeout if timeout is None else timeout
        self._receipt_denied = False
        start = self._clock()
        deadline = start + timeout
        delay = self.config.poll_initial
        cut_off = 0
        while True:
            self._sleep(max(0.0, min(delay, deadline - self._clock())))
            try:
                receipt = self._get_receipt(bucket, project_key, run_id)
                cut_off = 0
            except _PollCutOff as exc:
                # One answer cut off is no reason to give up on a committed run; a network that
                # keeps failing is reported as the S3 failure it is.
                cut_off += 1
                if cut_off > _MAX_CUT_OFF_POLLS:
                    raise translate_error(exc.cause, bucket=bucket, action="reading the receipt") from None
                log.warning("reading the receipt of run %s was cut off (%s); polling again",
                            run_id, exc.cause)
                receipt = None
            if receipt is not None:
                return receipt
            now = self._clock()
            if now >= deadline:
                hint = "the run is committed and will be filed; re-run the same command to wait again"
                if self._receipt_denied:
                    hint += (
                        "\nreading the receipt was denied: the credentials need s3:GetObject on "
                        f"receipts/{project_key}/* and s3:ListBucket on the staging bucket"
                    )
                raise ReceiptTimeoutError(
                    f"no receipt for run {run_id} of {project_key} after {timeout:g} s",
                    run_id=run_id,
                    project_key=project_key,
                    hint=hint,
                )
            self._notify("on_waiting", elapsed=now - start)
            delay = min(delay * self.config.poll_multiplier, self.config.poll_max)


#: Receipt polls in a row whose answer may be cut off before the wait gives up.
_MAX_CUT_OFF_POLLS = 3


class _PollCutOff(Exception):
    """A receipt poll lost its connection after botocore's retries, or mid-answer: botocore retries
    a request, but neither the streamed body of an answer nor a truncated error body."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _cut_off(exc: BaseException) -> bool:
    """A connection-level failure (not an answer from S3), which the next poll may not meet."""
    if getattr(exc, "response", None) is not None:
        return False
    return is_aws_error(exc) or isinstance(exc, OSError)


class _NoShortReads:
    """A file s3transfer sends from, that refuses to come up short.

    s3transfer is told each piece's size up front and reads exactly that much; a file that shrank
    since it was listed would otherwise send a body shorter than its Content-Length, and the request
    would hang until the read timeout, then be retried and hang again, for minutes.
    """

    def __init__(self, handle: Any, path: str) -> None:
        self._handle = handle
        self._path = path

    def read(self, amount: int | None = -1) -> bytes:
        data = self._handle.read(amount)
        if amount is not None and amount > 0 and len(data) < amount:
            raise FileChangedError(
                f"{self._path} changed while it was being uploaded (it is shorter than when it was listed)",
                hint="re-run the upload once the program writing it has finished",
            )
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> _NoShortReads:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


def _strict_osutil() -> Any:
    """s3transfer's file access, with every file opened for reading guarded by :class:`_NoShortReads`."""
    from s3transfer.utils import OSUtils

    class StrictOSUtils(OSUtils):
        def open(self, filename: str, mode: str) -> Any:
            handle = super().open(filename, mode)
            return _NoShortReads(handle, filename) if "r" in mode else handle

    return StrictOSUtils()


def _committed(entry: JournalEntry) -> JournalEntry:
    return JournalEntry(entry.run_id, entry.timestamp, entry.fingerprint, entry.created, committed=True)


def _sha256_of(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class _ListedSize:
    """Tells s3transfer the size to send (s3transfer's subscriber interface)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def on_queued(self, future: Any, **kwargs: Any) -> None:
        future.meta.provide_transfer_size(self.size)


def _slot_piece(slot: str, f: LocalFile, hashed: Future[str]) -> Callable[[], Piece]:
    return lambda: Piece(slot, "blob", f.size, hashed.result())


def _moved(f: LocalFile) -> bool:
    """Whether the file's size or modification time is no longer what was listed."""
    try:
        st = os.stat(f.location)
    except OSError:
        return True
    return st.st_size != f.size or st.st_mtime_ns != f.mtime_ns


def _check_unchanged(f: LocalFile, sha256: str, chunksize: int) -> None:
    """A blob is sent by s3transfer from its path: the bytes sent must be the ones hashed, or the
    filer refuses the whole run as corrupt after it was committed.

    s3transfer reads the size it was given, so a file that only grew (a live log) sent the bytes that
    were hashed, as a packed file does. Any other change (rewritten in place, shrunk, replaced) is
    reported here, before the manifest commits the run. The file is read again only when its size or
    modification time moved.
    """
    if not _moved(f):
        return
    try:
        if hash_file(f, chunksize) == sha256:  # its first f.size bytes; shorter or gone raises
            return
    except ArtifactBackupError:
        pass
    raise _changed_while_sent(f)


def _changed_while_sent(f: LocalFile) -> FileChangedError:
    return FileChangedError(
        f"{f.source} changed while it was being uploaded",
        hint="re-run the upload once the program writing it has finished",
    )


def _refusal_hint(receipt: Receipt, staging_bucket: str, folder: Path) -> str | None:
    """What the user should do, and that nothing was lost: a refused run's files are still on disk
    and what was sent is kept in quarantine, so the user knows re-sending is safe."""
    kept = (
        f"nothing of this run was filed and nothing in the archive was overwritten; its files are "
        f"still in {folder}, and what was sent is kept in "
        f"s3://{staging_bucket}/quarantine/{receipt.project_key}/{receipt.run_id}/"
    )
    if receipt.code == "timestamp-taken":
        return (
            f"another run of {receipt.project_key} is already filed under this timestamp: {kept}.\n"
            "Upload this run again under another timestamp: --custom-timestamp YYYYMMDD_HHMM with a "
            "free minute, or --timestamp once the current minute has passed"
        )
    return f"{kept} for inspection"


def backup_run(
    folder: str | os.PathLike[str],
    *,
    settings: Settings,
    project_key: str | None = None,
    include: Sequence[str] | None = None,
    folder_type: str | None = None,
    timestamp: bool | str = False,
    config_path: str | os.PathLike[str] | None = None,
    wait: bool = True,
    wait_timeout: float | None = None,
    dry_run: bool = False,
    client: Any = None,
    subscribers: Iterable[BaseSubscriber] = (),
    journal: Journal | None = None,
) -> UploadResult:
    """Back up one run in one call: the library form of ``artifact-backup upload``."""
    uploader = Uploader(settings, client=client, subscribers=subscribers, journal=journal)
    request = BackupRequest(
        folder=folder,
        project_key=project_key,
        include=include,
        folder_type=folder_type,
        timestamp=timestamp,
        config_path=config_path,
    )
    return uploader.backup(request, wait=wait, wait_timeout=wait_timeout, dry_run=dry_run)

