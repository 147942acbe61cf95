"""The filer's answer (docs/protocol.md, step 6): reading a run's receipt, polling until it comes,
and what a refusal tells the user."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from artifact_contract import Receipt, ReceiptInvalidError, receipt_key
from artifact_contract.s3 import is_aws_error, is_denied, is_missing

from ..aws import translate_error
from ..exceptions import ReceiptTimeoutError, ReceiptUnreadableError, RunRefusedError
from ..transfer import Notifier, UploadConfig
from .filer_progress import FilerProgressReader
from .types import UploadResult

log = logging.getLogger("artifact_backup")

#: Receipt polls in a row whose answer may be cut off before the wait gives up.
_MAX_CUT_OFF_POLLS = 3


class PollCutOff(Exception):
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


class ReceiptPoller:
    """Reads one staging bucket's receipts: once (:meth:`get`) or until one comes (:meth:`wait`)."""

    def __init__(
        self,
        client: Any,
        config: UploadConfig,
        *,
        notify: Notifier,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self.client = client
        self.config = config
        self._notify = notify
        self._sleep = sleep
        self._clock = clock
        self._denied = False

    def get(self, bucket: str, project_key: str, run_id: str) -> Receipt | None:
        """The run's receipt, or None while there is none; :class:`PollCutOff` when the answer was
        cut off."""
        key = receipt_key(project_key, run_id)
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
            raw = response["Body"].read()
        except Exception as exc:
            if is_missing(exc):
                return None
            if is_denied(exc):
                # Without s3:ListBucket on receipts/, S3 answers 403 for a key that does not exist yet.
                self._denied = True
                return None
            if _cut_off(exc):
                raise PollCutOff(exc) from exc
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

    def wait(self, bucket: str, project_key: str, run_id: str, *, timeout: float | None = None,
             progress: FilerProgressReader | None = None) -> Receipt:
        """Poll for the filer's receipt: short pauses first (filing small runs takes seconds), then
        growing ones up to ``poll_max``, until ``timeout`` (default ``config.wait_timeout``). Between
        polls the subscribers hear the elapsed time and, read through ``progress``, what the filer
        has done so far."""
        timeout = self.config.wait_timeout if timeout is None else timeout
        self._denied = False
        start = self._clock()
        deadline = start + timeout
        delay = self.config.poll_initial
        cut_off = 0
        while True:
            self._sleep(max(0.0, min(delay, deadline - self._clock())))
            try:
                receipt = self.get(bucket, project_key, run_id)
                cut_off = 0
            except PollCutOff as exc:
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
                raise self._timed_out(project_key, run_id, timeout)
            self._notify("on_waiting", elapsed=now - start, filer=progress.read() if progress else None)
            delay = min(delay * self.config.poll_multiplier, self.config.poll_max)

    def _timed_out(self, project_key: str, run_id: str, timeout: float) -> ReceiptTimeoutError:
        hint = "the run is committed and will be filed; re-run the same command to wait again"
        if self._denied:
            hint += (
                "\nreading the receipt was denied: the credentials need s3:GetObject on "
                f"receipts/{project_key}/* and s3:ListBucket on the staging bucket"
            )
        return ReceiptTimeoutError(
            f"no receipt for run {run_id} of {project_key} after {timeout:g} s",
            run_id=run_id,
            project_key=project_key,
            hint=hint,
        )


def refused_error(
    receipt: Receipt, result: UploadResult, staging_bucket: str, folder: Path
) -> RunRefusedError:
    """The error a refused run raises, naming the filer's reason and code; ``result`` is marked
    refused."""
    result.status, result.reason = "refused", receipt.reason
    reason = receipt.reason or "no reason given"
    return RunRefusedError(
        f"the filer refused run {receipt.run_id} of {result.project_key}: {reason}"
        + (f" ({receipt.code})" if receipt.code else ""),
        receipt=receipt,
        result=result,
        hint=_refusal_hint(receipt, staging_bucket, folder),
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
            f"another upload of {receipt.project_key} already filed an artifact type of this run "
            f"under this timestamp: {kept}.\n"
            "Upload this run again under another timestamp: --custom-timestamp YYYYMMDD_HHMM with a "
            "free minute, or --timestamp once the current minute has passed; types not yet at this "
            "timestamp may join it (--include only those)"
        )
    if receipt.code == "archive-unversioned":
        return (
            f"{kept}.\nEnable versioning on the archive bucket (docs/deploy.md: deploying the stack "
            "over it does so), then upload again; or upload with --timestamp, whose folders are "
            "never replaced"
        )
    return f"{kept} for inspection"
