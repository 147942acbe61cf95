"""The requests every step makes alike: phases of parallel requests, reads that are read again when
cut off, small gets, HEADs, listings and batched deletes in staging."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from typing import Any, TypeVar

from botocore.exceptions import IncompleteReadError, ResponseStreamingError
from urllib3.exceptions import ProtocolError

from artifact_contract.s3 import body_of, is_missing

from .context import FilingContext
from .exceptions import FilerRefusedError, StagingCleanError, StagingReadError

#: CopyObject's own ceiling; anything larger must be copied in parts.
MAX_SINGLE_COPY = 5 * 1024**3
_DELETE_BATCH = 1000

#: Reads of an answer that was cut off, before the message is failed. botocore retries a request,
#: but neither the reading of a streamed body nor a truncated error body: without this, one dropped
#: connection would cost a whole SQS delivery, and three would send a good run to the dead letters.
_READ_ATTEMPTS = 3
_CUT_OFF = (StagingReadError, ResponseStreamingError, IncompleteReadError, ProtocolError,
            http.client.IncompleteRead)

_T = TypeVar("_T")


class Futures:
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


def reread(ctx: FilingContext, read: Callable[[], _T]) -> _T:
    """Run ``read`` again (from the start) when its answer was cut off, a few times."""
    for attempt in range(1, _READ_ATTEMPTS + 1):
        try:
            return read()
        except _CUT_OFF as exc:
            if attempt == _READ_ATTEMPTS:
                raise
            ctx.log.warning("a read was cut off, reading again", extra={"error": str(exc)})
    raise AssertionError("unreachable")


def get_small(ctx: FilingContext, bucket: str, key: str) -> bytes | None:
    """A small object's bytes (a receipt, a record, a claim), or None when there is none."""
    return reread(ctx, lambda: _get_small_once(ctx, bucket, key))


def _get_small_once(ctx: FilingContext, bucket: str, key: str) -> bytes | None:
    try:
        response = ctx.client.get_object(Bucket=bucket, Key=key)
    except Exception as exc:
        if is_missing(exc):
            return None
        raise
    with body_of(response) as body:
        return body.read()


def head(ctx: FilingContext, bucket: str, key: str, *, checksums: bool = False) -> dict[str, Any] | None:
    """The object's HEAD, or None when there is none; with ``checksums``, the checksum S3 keeps for
    it too (``ChecksumMode``: the same request, a few more headers)."""
    extra = {"ChecksumMode": "ENABLED"} if checksums else {}
    try:
        return ctx.client.head_object(Bucket=bucket, Key=key, **extra)
    except Exception as exc:
        if is_missing(exc):
            return None
        raise


def list_sizes(ctx: FilingContext, bucket: str, prefix: str) -> list[tuple[str, int]]:
    """Every key under ``prefix`` with its size."""
    found: list[tuple[str, int]] = []
    for page in ctx.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found.extend((o["Key"], int(o.get("Size", 0))) for o in page.get("Contents", []))
    return found


def list_keys(ctx: FilingContext, bucket: str, prefix: str) -> list[str]:
    """Every key under ``prefix``."""
    return [k for k, _ in list_sizes(ctx, bucket, prefix)]


def delete_staging(ctx: FilingContext, keys: Iterable[str]) -> None:
    """Delete ``keys`` from staging, a thousand to a request; a key already gone is no error."""
    batch: list[str] = []
    for key in keys:
        batch.append(key)
        if len(batch) == _DELETE_BATCH:
            _delete_batch(ctx, batch)
            batch = []
    if batch:
        _delete_batch(ctx, batch)


def _delete_batch(ctx: FilingContext, keys: list[str]) -> None:
    response = ctx.client.delete_objects(
        Bucket=ctx.staging_bucket,
        Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
    )
    errors = [e for e in response.get("Errors", []) if e.get("Code") != "NoSuchKey"]
    if errors:
        raise StagingCleanError(
            f"could not delete {len(errors)} staging object(s), e.g. {errors[0].get('Key')}: "
            f"{errors[0].get('Code')} {errors[0].get('Message')}"
        )
