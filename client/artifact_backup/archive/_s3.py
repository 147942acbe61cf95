"""What every read of the archive shares: error translation, listing, bounded parallelism, events."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from artifact_contract.s3 import MISSING_CODES, body_of, error_code, is_aws_error

from ..aws import translate_error
from ..exceptions import ArchiveReadError, ArtifactBackupError, UploadFailedError

log = logging.getLogger("artifact_backup.archive")

T = TypeVar("T")
R = TypeVar("R")

def read_error(exc: BaseException, *, bucket: str, action: str) -> ArtifactBackupError:
    """The upload side's translation, reworded for a reader: same cause codes, reader's checklist."""
    error = translate_error(exc, bucket=bucket, action=action)
    if not isinstance(error, UploadFailedError):
        return error
    hint = None
    if error.code == "bucket-not-found":
        hint = "check aws.s3_bucket_raw (or --bucket) and the region"
    elif error.code == "access-denied":
        hint = f"bucket: {bucket}"
    elif error.hint and "Check:" in error.hint:
        first = error.hint.split("Check:")[0].strip()
        hint = first or None
    return ArchiveReadError(error.cause, code=error.code, hint=hint)


@dataclass(frozen=True)
class ListedObject:
    """One key of a ``ListObjectsV2`` page: enough to tell presence, size, storage class, and
    (by its ETag) whether it is still the object a run record names."""

    key: str
    size: int
    storage_class: str
    etag: str = ""


def list_objects(client: Any, bucket: str, prefix: str) -> Iterator[ListedObject]:
    """Every object under ``prefix``, one request per 1,000 keys."""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    while True:
        try:
            page = client.list_objects_v2(**kwargs)
        except Exception as exc:
            if is_aws_error(exc):
                raise read_error(exc, bucket=bucket, action=f"listing {prefix}") from None
            raise
        for obj in page.get("Contents", []):
            yield ListedObject(obj["Key"], int(obj.get("Size", 0)), obj.get("StorageClass") or "STANDARD",
                               str(obj.get("ETag") or ""))
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            return
        kwargs["ContinuationToken"] = token


class ObjectArchivedError(Exception):
    """A GET met an object in Glacier or Deep Archive that is not restored (``InvalidObjectState``)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def get_bytes(client: Any, bucket: str, key: str, *, action: str,
              version_id: str | None = None) -> bytes | None:
    """A small object's bytes (of ``version_id`` when given), or None when it does not exist."""
    try:
        versioned = {"VersionId": version_id} if version_id else {}
        response = client.get_object(Bucket=bucket, Key=key, **versioned)
        with body_of(response) as body:
            return body.read()
    except Exception as exc:
        if error_code(exc) in MISSING_CODES:
            return None
        if error_code(exc) == "InvalidObjectState":
            raise ObjectArchivedError(key) from None
        if is_aws_error(exc):
            raise read_error(exc, bucket=bucket, action=action) from None
        raise


def head(client: Any, bucket: str, key: str, *, version_id: str | None = None) -> dict[str, Any] | None:
    """The object's HEAD (of ``version_id`` when given), or None when there is none."""
    try:
        return client.head_object(Bucket=bucket, Key=key, **({"VersionId": version_id} if version_id else {}))
    except Exception as exc:
        if error_code(exc) in MISSING_CODES:
            return None
        if is_aws_error(exc):
            raise read_error(exc, bucket=bucket, action=f"reading {key}") from None
        raise


def parallel_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> list[R]:
    """``fn`` over ``items`` on up to ``workers`` threads, results in input order; the first
    exception propagates (S3 reads are I/O bound, and one slow record must not serialise a listing)."""
    items = list(items)
    if len(items) <= 1 or workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items)),
                            thread_name_prefix="artifact-backup-read") as pool:
        return list(pool.map(fn, items))


class CountedClient:
    """An S3 client whose reads are counted as they are made: HEAD, GET and LIST requests (API calls,
    a retry is not counted again), so a command can say what checking the archive cost.

    Every other attribute is the client's own; the counts are safe to update from reading threads.
    """

    _KINDS = {"head_object": "HEAD", "get_object": "GET", "list_objects_v2": "LIST",
              "list_object_versions": "LIST"}

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(("HEAD", "GET", "LIST"), 0)

    def counts(self) -> dict[str, int]:
        """The requests made so far, per kind."""
        with self._lock:
            return dict(self._counts)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        kind = self._KINDS.get(name)
        if kind is None:
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self._counts[kind] += 1
            return attribute(*args, **kwargs)

        return counted
