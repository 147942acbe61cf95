"""Sending a run to staging and waiting for the filer's answer (docs/protocol.md, client side).

Requests are the budget that matters: a fresh run of 2,000 small files costs one PUT per pack (one
pack up to 64 MiB of input), one PUT for the manifest and a few receipt polls.

The :class:`Uploader` only orchestrates the client's steps; each lives in a module of its own:
packs and blobs (:mod:`.pack_task`, :mod:`.blob_task`, :mod:`.resend_task`), resuming
(:mod:`.resume`), skip-unchanged (:mod:`.reuse`), the commit (:mod:`.commit`) and the receipt
(:mod:`.receipt`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from typing import Any

from artifact_contract import (
    PROJECT_TAG,
    ContractError,
    Manifest,
    Receipt,
    RefusalCode,
    ReuseIndex,
    format_timestamp,
)

from ..aws import make_s3_client, s3_failures
from ..collect import Selection, collect
from ..collect_errors import check_untimestamped
from ..config import Settings
from ..exceptions import AccessDeniedError, ArtifactBackupError, FileChangedError
from ..journal import Journal
from ..pack import PiecePlan, plan_pieces
from ..transfer import BaseSubscriber, Notifier, UploadConfig
from .blob_task import file_blobs, send_slot_blobs, start_hashes
from .commit import put_manifest, run_manifest
from .filer_progress import FilerProgressReader, RunUnits, run_units
from .pack_task import send_packs
from .part_checksums import speaks_plain_http
from .receipt import PollCutOff, ReceiptPoller, refused_error
from .resend_task import changed_while_sent, moved, settle_moved_blobs
from .resume import Attempt, mark_committed, sent_before, start_attempt
from .reuse import hash_first_sizes, read_reuse_index, send_again_in_full
from .sender import PieceSender, transfer_manager
from .types import BackupRequest, BlobJob, SendOutcome, StagingRun, UploadResult


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
        skip_unchanged = self.config.skip_unchanged if skip_unchanged is None else skip_unchanged
        started = self._clock()
        project_key = self.settings.resolve_project_key(request.project_key)
        mode, custom = request.timestamp_choice()
        archive = self.settings.require_archive_bucket()
        staging = self.settings.require_staging_bucket()
        selection = self.collect(request)  # 1. collect
        if mode == "none":
            try:
                check_untimestamped(selection, project_key)
            except ArtifactBackupError:
                selection.close()
                raise
        self._notify("on_collected", selection=selection)
        # 3. plan the pieces (2, hashing, goes with 4: each file is hashed as it is packed or sent)
        plan = plan_pieces(selection.files, self.config)
        self._notify("on_planned", plan=plan)
        result = _planned(selection, plan, project_key, archive, staging, custom)
        if dry_run:
            return self._dry_run(result, plan, mode, started)
        # The file list is spooled to disk; a dry run's plan reads it again when it is shown, a
        # sent run's is freed here.
        with closing(selection):
            attempt = start_attempt(self.journal, selection, staging_bucket=staging, project_key=project_key,
                                    timestamp=(mode, custom), max_age=self.config.resume_max_age)
            result.resumed, result.run_id = attempt.resumed, attempt.entry.run_id
            result.timestamp = attempt.entry.timestamp
            run = StagingRun(staging, project_key, attempt.entry.run_id)
            with _contract_kept(), _project_granted(project_key), s3_failures(staging):
                receipt = self._earlier_receipt(run) if attempt.resumed else None
                if receipt is None:
                    # 2, 4 and 5: hash and upload the pieces, commit the manifest
                    units = self._send_and_commit(run, attempt, plan, selection, result, archive=archive,
                                                  reuse=skip_unchanged and wait)
                    if not wait:
                        return self._committed(attempt, result, started)
                    # 6. wait for the receipt
                    receipt = self.wait_for_receipt(staging, project_key, run.run_id, timeout=wait_timeout,
                                                    units=units, pieces=result.pieces)
            self.journal.clear(attempt.key)
            result.receipt = receipt
            self._timed(result, started)
            if receipt.filed:
                result.status, result.timestamp = "filed", receipt.timestamp or result.timestamp
                return result
            if receipt.code == RefusalCode.REUSE_UNAVAILABLE and skip_unchanged:
                again = send_again_in_full(self, request, result, wait=wait, wait_timeout=wait_timeout)
                return self._timed(again, started)
            raise refused_error(receipt, result, staging, selection.folder)

    def _dry_run(self, result: UploadResult, plan: PiecePlan, mode: str, started: float) -> UploadResult:
        """What would be sent, and under which timestamp, without sending anything."""
        result.plan = plan
        if mode == "now":
            result.timestamp = format_timestamp()
        return self._timed(result, started)

    def _committed(self, attempt: Attempt, result: UploadResult, started: float) -> UploadResult:
        """Committed, not waited for: the journal's work is done."""
        self.journal.clear(attempt.key)
        result.status = "committed"
        return self._timed(result, started)

    def _timed(self, result: UploadResult, started: float) -> UploadResult:
        result.elapsed = self._clock() - started
        return result

    def _earlier_receipt(self, run: StagingRun) -> Receipt | None:
        """A resumed run may have been filed since its last attempt."""
        try:
            return self._receipts().get(run.bucket, run.project_key, run.run_id)
        except PollCutOff:
            return None  # looked for again while waiting

    def _send_and_commit(
        self,
        run: StagingRun,
        attempt: Attempt,
        plan: PiecePlan,
        selection: Selection,
        result: UploadResult,
        *,
        archive: str,
        reuse: bool,
    ) -> RunUnits | None:
        """Send what an earlier attempt did not, then commit; nothing when it already committed.
        Returns the files each piece carries (for the wait's progress) when this attempt sent them."""
        units = None
        if attempt.entry.committed:
            result.already_committed = True
            return None
        if attempt.resumed:
            run = sent_before(self.client, run)
        if run.holds_manifest():
            result.already_committed = True
            self._notify("on_committed", run_id=run.run_id, already=True)
        else:
            reusable = None
            if reuse and plan.blobs:
                reusable = read_reuse_index(self.client, run.bucket, run.project_key)
            outcome = self._send_pieces(run, plan, reusable)
            with closing(outcome):
                _count(result, outcome)
                units = run_units(outcome.files)
                manifest = run_manifest(run, outcome, timestamp=attempt.entry.timestamp,
                                        archive_bucket=archive, config_source=selection.config_source)
            with manifest:
                result.already_committed = self.commit(run.bucket, manifest)
        mark_committed(self.journal, attempt)
        return units

    def _send_pieces(
        self, run: StagingRun, plan: PiecePlan, reusable: ReuseIndex | None = None
    ) -> SendOutcome:
        """Build and send the packs, send the blobs; a blob whose content ``reusable`` lists (same
        SHA-256 and size) is not sent but listed for reuse, unless a resumed attempt already sent
        it. A blob of a size nothing else has is sent while it is hashed (:mod:`.blob_task`).

        Every hash starts before the S3 client is made: a third of a second of start-up the hashing
        runs beside."""
        endpoint = self._client.meta.endpoint_url if self._client is not None else self.settings.endpoint_url
        sender = PieceSender(run, self.config, self._notify, part_checksums=speaks_plain_http(endpoint))
        pool = ThreadPoolExecutor(max_workers=self.config.hash_workers, thread_name_prefix="artifact-hash")
        blobs: list[BlobJob] = []
        try:
            with _changes_named(blobs), s3_failures(run.bucket, "sending the run's pieces"):
                blobs.extend(start_hashes(sender, pool, plan.blobs, hash_first_sizes(plan.blobs, reusable)))
                part_crcs = sender.checksums.given_to(self.client)
                with part_crcs, transfer_manager(self.client, self.config) as manager:
                    sender.use(manager)
                    send_slot_blobs(sender, blobs)
                    send_packs(sender, plan.packs)
                    file_blobs(sender, blobs, reusable)
                    sender.wait()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            sender.remove_temp_files()
        settle_moved_blobs(self.client, self.config, run, blobs)
        return sender.outcome

    def commit(self, bucket: str, manifest: Manifest) -> bool:
        """Put the manifest, which commits the run; returns True when it was already committed
        (:func:`.commit.put_manifest`)."""
        return put_manifest(self.client, bucket, manifest, notify=self._notify, sleep=self._sleep)

    def wait_for_receipt(
        self, bucket: str, project_key: str, run_id: str, *, timeout: float | None = None,
        units: RunUnits | None = None, pieces: int | None = None,
    ) -> Receipt:
        """Poll for the filer's receipt: short pauses first (filing small runs takes seconds), then
        growing ones up to ``poll_max``, until ``timeout`` (default ``config.wait_timeout``).

        Subscribers' ``on_waiting`` also hears what the filer has verified and filed, read from its
        progress in staging (:mod:`.filer_progress`); ``units`` (the files each piece carries) turns
        its filed pieces into files. Without subscribers nobody would see it: it is not read."""
        reader = None
        if self._notify.subscribers:
            reader = FilerProgressReader(self.client, bucket, project_key, run_id, units=units, pieces=pieces)
        return self._receipts().wait(bucket, project_key, run_id, timeout=timeout, progress=reader)

    def _receipts(self) -> ReceiptPoller:
        return ReceiptPoller(
            self.client, self.config, notify=self._notify, sleep=self._sleep, clock=self._clock
        )


@contextmanager
def _changes_named(blobs: Sequence[BlobJob]) -> Iterator[None]:
    """A failed send whose large file moved meanwhile reports the change, its real cause.

    A file that shrinks is caught as it is read; but when the AWS SDK reads it through native code
    (botocore signs with awscrt once that is installed), the change comes back as an opaque native
    error, which would read as a crash instead of the guide's message.
    """
    try:
        yield
    except FileChangedError:
        raise
    except Exception as exc:
        moved_file = next((job.file for job in blobs if moved(job.file)), None)
        if moved_file is None:
            raise
        raise changed_while_sent(moved_file) from exc


@contextmanager
def _contract_kept() -> Iterator[None]:
    try:
        yield
    except ContractError as exc:
        raise ArtifactBackupError(f"the run breaks the contract: {exc}") from None


@contextmanager
def _project_granted(project_key: str) -> Iterator[None]:
    """Staging access denied is most often a project the uploading identity is not tagged with:
    the uploader policy grants each identity its tagged projects only (docs/deploy.md)."""
    try:
        yield
    except AccessDeniedError as exc:
        hint = (f"the uploader policy allows only the projects the identity is tagged with: tag it "
                f"{PROJECT_TAG}={project_key} (a further project: {PROJECT_TAG}-2, ...)")
        # The hint ends with the guide's checklist, which the new error adds again.
        first = ("\n" + (exc.hint or "")).split("\nCheck:\n")[0].strip()
        raise AccessDeniedError(exc.cause, hint=f"{first}\n{hint}" if first else hint) from None


def _planned(
    selection: Selection, plan: PiecePlan, project_key: str, archive: str, staging: str, custom: str | None
) -> UploadResult:
    """The result as far as the plan knows it: what a dry run reports."""
    return UploadResult(
        status="dry-run",
        project_key=project_key,
        timestamp=custom,
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


def _count(result: UploadResult, outcome: SendOutcome) -> None:
    result.files_reused, result.bytes_reused = outcome.reused, outcome.reused_bytes
    result.pieces = len(outcome.pieces)
    result.pieces_sent, result.pieces_skipped = outcome.sent, outcome.skipped
    result.bytes_sent = outcome.bytes_sent


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
