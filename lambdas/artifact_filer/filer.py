"""The filing algorithm of docs/protocol.md: verify, claim, file, record, clean, receipt.

Every step is idempotent and ordered so that a filer killed anywhere and run again on the same
manifest ends in the archive state of an undisturbed run: nothing reaches the archive before every
piece is verified, the run record is written only after every file, staging is cleaned only after the
record, and the receipt comes last.

This module is the order of the steps; each step is a module of its own: ``intake`` (steps 1-4),
``verify`` (5), ``claim`` (6, and step 4's repeats), ``file`` (7), ``finish`` (8-11) and
``refusal``. They share a :class:`~.context.FilingContext` and the requests of ``plumbing``.

A run too large for one invocation pauses between units of steps 5 and 7 and continues in a fresh
one (``progress``, ``continuation``); the steps after the last unit run once, in the invocation that
files it.
"""

from __future__ import annotations

import logging
from typing import Any

from boto3.s3.transfer import TransferConfig

from artifact_contract import Manifest, Receipt, RunRecord, run_record_key

from . import claim, file, finish, intake, progress, refusal, verify, versions
from .config import FilerConfig
from .context import FilingContext
from .continuation import Continuer
from .exceptions import FilerRefusedError, FilingUnfinishedError, RunRefusedError
from .log_bounds import bound_log
from .plumbing import delete_staging
from .progress import Progress, RemainingTime

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
#: Step names of a refusal (a timestamped run's claims are ``released`` before them).
REFUSAL_STEPS = ("refusal-receipted", "quarantined")
#: Step names of a filing that pauses, its invocation's time up, to continue in a fresh one.
CONTINUATION_STEPS = ("progress-saved", "continued")


class _Paused(Exception):  # noqa: N818 - not an error: the filing goes on in a fresh invocation
    """Raised by the orchestrator once a paused filing's progress is saved and handed on."""


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
        putter: Any | None = None,
        continuer: Continuer | None = None,
    ) -> None:
        self.client = client
        #: Sends a filing that outlasts its invocation on to a fresh one; without it such a filing
        #: fails its message (progress saved) and goes on when the message is delivered again.
        self.continuer = continuer
        #: Sends the put of each packed file (``artifact_filer.crt.CrtPutter``); botocore when None.
        self.putter = putter
        self.staging_bucket = staging_bucket
        self.archive_bucket = archive_bucket
        self.config = config or FilerConfig()
        self.log = logger or logging.getLogger(__name__)
        bound_log(self.log, self.config.max_error_chars)
        self._transfer = TransferConfig(
            multipart_threshold=self.config.multipart_copy_threshold_bytes,
            multipart_chunksize=self.config.multipart_copy_chunk_bytes,
            max_concurrency=min(16, self.config.concurrency),
        )

    def file(self, key: str, remaining: RemainingTime | None = None) -> Receipt | None:
        """File the run whose manifest is at the (URL-decoded) staging ``key``.

        ``remaining`` tells the milliseconds the invocation has left (Lambda's
        ``context.get_remaining_time_in_millis``); without it the filing never pauses.

        Returns the *filed* receipt, or ``None`` when there is nothing to do (not a manifest key, or
        the manifest is gone without a receipt) or when the filing continues in a fresh invocation.
        Raises a :class:`FilerRefusedError` once a refused
        receipt is written and the run's staging objects are quarantined; any other error is
        transient and leaves everything ready for another attempt.
        """
        location = intake.decode(key, self.log)  # 1. decode the key
        if location is None:
            return None
        ctx = FilingContext(
            client=self.client, staging_bucket=self.staging_bucket, archive_bucket=self.archive_bucket,
            config=self.config, log=self.log, transfer=self._transfer, key=key, location=location,
            on_step=self.config.on_step, putter=self.putter,
        )
        previous = intake.read_receipt(ctx)  # 2. already done?
        ctx.step("receipt-checked")
        if previous is not None:
            if previous.filed:
                delete_staging(ctx, [key])
                ctx.log.info("run already filed", extra=ctx.identity())
                return previous
            refusal.quarantine(ctx)
            raise RunRefusedError.from_receipt(previous)
        try:
            return self._file(ctx, remaining)
        except FilerRefusedError as refused:
            refusal.refuse(ctx, refused)
            raise
        except _Paused:
            return None

    def _file(self, ctx: FilingContext, remaining: RemainingTime | None) -> Receipt | None:
        manifest = intake.read_manifest(ctx)  # 3. validate the manifest
        if manifest is None:
            ctx.log.info("manifest gone and no receipt: nothing to do", extra=ctx.identity())
            return None
        ctx.step("manifest-read")
        with manifest:  # its files are spooled to /tmp until the filing ends
            try:
                return self._file_manifest(ctx, manifest, remaining)
            except FilerRefusedError:
                # Before the refused receipt: a refused run's timestamp types are free again at once.
                claim.release(ctx, manifest)
                raise
            finally:
                versions.close(ctx)

    def _file_manifest(
        self, ctx: FilingContext, manifest: Manifest, remaining: RemainingTime | None
    ) -> Receipt | None:
        """Steps 4 to 11 for a manifest read and checked."""
        record_key = run_record_key(manifest.project_key, manifest.timestamp, manifest.run_id)
        record = intake.read_record(ctx, record_key)  # 4. already filed? a repeat?
        ctx.step("record-checked")
        if record is not None and record.run_id == manifest.run_id:
            ctx.log.info("run record exists: finishing an earlier attempt", extra=ctx.identity())
        else:
            earlier = claim.identical_filed(ctx, manifest, record, record_key)
            if earlier is None:
                done = progress.resume(ctx, ctx.manifest_etag, remaining)
                earlier = self._verify_claim_file(ctx, manifest, record_key, done)
            if earlier is not None:
                return claim.answer_already_filed(ctx, manifest, *earlier)
        return self._finish(ctx, manifest, record_key)

    def _verify_claim_file(
        self, ctx: FilingContext, manifest: Manifest, record_key: str, done: Progress
    ) -> tuple[RunRecord, str] | None:
        """Steps 5 to 8; the earlier run's record and its key when the claim finds this run is a
        repeat of a run filed at the same timestamp. Pauses (``_Paused``) between units once the
        invocation's time is nearly up."""
        try:
            # 5. verify every piece and reused file
            etags = verify.verify_pieces(ctx, manifest, done)
            if etags is None:
                self._pause(ctx, done)
            if done.state.sources is None:
                done.state.sources = verify.verify_reused(ctx, manifest)
            ctx.step("verified")
            if manifest.timestamp is not None:
                earlier = claim.claim(ctx, manifest)  # 6. claim the timestamp (again, if resumed)
                if earlier is not None:
                    return earlier
                ctx.step("claimed")
            else:
                versions.prepare(ctx, manifest)  # 6. keep what it replaces, or replace nothing
            versions.track(ctx)
            if not file.file_all(ctx, manifest, etags, done.state.sources, done):  # 7. file
                self._pause(ctx, done)
            done.close()
            if done.out_of_time():
                # Every file is in; the record, index and clean-up get an invocation of their own.
                self._pause(ctx, done)
        except (FilerRefusedError, FilingUnfinishedError, _Paused):
            raise
        except Exception:
            done.save_quietly()  # the next delivery goes on from here
            raise
        ctx.step("filed")
        if manifest.timestamp is not None:
            claim.still_holds(ctx, manifest)
        versions.settle_etags(ctx, manifest)
        finish.write_record(ctx, manifest, record_key, versions.lookup(ctx, manifest),  # 8. record
                            versions.etag_lookup(ctx))
        ctx.step("recorded")
        return None

    def _pause(self, ctx: FilingContext, done: Progress) -> None:
        """Keep what is done and hand the filing to a fresh invocation; always raises."""
        done.save()
        ctx.step("progress-saved")
        details = {**ctx.identity(), **progress.describe(done)}
        if self.continuer is None:
            ctx.log.warning("invocation out of time, no queue to continue on: failing the message",
                            extra=details)
            raise FilingUnfinishedError(
                f"run {ctx.location.run_id} is partly filed and this invocation's time is up; its "
                "progress is saved and the next delivery of the message goes on (set FILER_QUEUE_URL "
                "to continue at once)"
            )
        self.continuer.send(ctx.staging_bucket, ctx.key, done.state.invocations + 2)
        ctx.step("continued")
        ctx.log.info("invocation out of time: the filing continues in a fresh one", extra=details)
        raise _Paused

    def _finish(self, ctx: FilingContext, manifest: Manifest, record_key: str) -> Receipt:
        """Steps 9 to 11, also for a redelivery that finds the run already recorded."""
        finish.index(ctx, manifest)  # 9. index
        ctx.step("indexed")
        receipt = finish.filed_receipt(ctx, manifest, record_key)
        finish.answer(ctx, receipt)  # 10. clean, 11. receipt, then the manifest
        ctx.log.info(
            "run filed",
            extra={**ctx.identity(), "files": receipt.files, "bytes": receipt.bytes,
                   "timestamp": manifest.timestamp},
        )
        return receipt
