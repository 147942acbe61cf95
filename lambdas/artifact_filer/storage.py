"""The headers every archived object carries, and the bound on packed files waiting for their put.

How S3's answers are told apart is the contract's (``artifact_contract.s3``), shared with the client.
"""

from __future__ import annotations

import base64
import mimetypes
import threading
from collections.abc import Mapping
from urllib.parse import quote, urlencode

from artifact_contract import (
    META_ARTIFACT_TYPE,
    META_PROJECT_KEY,
    META_RUN_ID,
    META_SHA256,
    META_TIMESTAMP,
    RETENTION_STANDARD,
    TAG_MANAGED,
    TAG_MANAGED_VALUE,
    TAG_RETENTION,
    FileEntry,
    Manifest,
)

#: The content type of the filer's own documents: claims, run records, receipts, the reuse index.
JSON_TYPE = "application/json"


def sha256_b64(hex_digest: str) -> str:
    """The ``ChecksumSHA256`` form (base64 of the digest) of a manifest's hex SHA-256."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def metadata_value(value: str) -> str:
    """S3 metadata travels in HTTP headers, which carry ASCII only: percent-encode anything else."""
    return value if value.isascii() else quote(value, safe="")


def archive_metadata(manifest: Manifest, entry: FileEntry) -> dict[str, str]:
    meta = {
        META_SHA256: entry.sha256,
        META_RUN_ID: manifest.run_id,
        META_PROJECT_KEY: metadata_value(manifest.project_key),
        META_ARTIFACT_TYPE: entry.type,
    }
    if manifest.timestamp is not None:
        meta[META_TIMESTAMP] = manifest.timestamp
    return meta


ARCHIVE_TAGGING = urlencode({TAG_MANAGED: TAG_MANAGED_VALUE, TAG_RETENTION: RETENTION_STANDARD})


def content_type(path: str) -> str:
    """So the console and browsers open a filed report.html as a page, not a download."""
    return mimetypes.guess_type(path, strict=False)[0] or "application/octet-stream"


def same_run(metadata: Mapping[str, str], manifest: Manifest, entry: FileEntry) -> bool:
    """Whether an archive object's metadata says this run wrote this file there."""
    return metadata.get(META_RUN_ID) == manifest.run_id and metadata.get(META_SHA256) == entry.sha256


class ByteBudget:
    """Bound the packed files waiting for their put, in bytes and in number.

    Puts, not unpacking, are the slow side, so without a bound the pack readers would run ahead and
    hold a whole run in memory; the number bound keeps them just ahead of the workers (memory stays
    flat as runs grow), the byte bound caps it when the files are large. One item larger than the
    byte bound is still let through when nothing else is in flight, so it can never deadlock.
    """

    def __init__(self, limit: int, max_items: int) -> None:
        self._limit = limit
        self._max_items = max_items
        self._used = 0
        self._items = 0
        self._cond = threading.Condition()

    def acquire(self, size: int) -> None:
        with self._cond:
            while self._items > 0 and (
                self._used + size > self._limit or self._items >= self._max_items
            ):
                self._cond.wait()
            self._used += size
            self._items += 1

    def release(self, size: int) -> None:
        with self._cond:
            self._used -= size
            self._items -= 1
            self._cond.notify_all()
