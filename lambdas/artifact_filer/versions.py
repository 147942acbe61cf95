"""An untimestamped run's place in the archive's history: the S3 version it wrote of each key, and
no overwrite where the archive keeps no versions.

An untimestamped run's keys (``{project}/{type}/{path}``) hold the latest copy: the next such run
replaces them, and this run's copy lives on as a noncurrent version. Its run record names that
version (``RecordedFile.version_id``), so ``show``, ``download`` and ``verify`` of the run read its
own bytes for as long as the version is kept. The versions come from the put and copy answers,
noted here as they arrive (on any thread, the native client's included), and are looked up when the
record is written; a file filed by an earlier invocation of a long filing is found again by a HEAD.

An archive bucket without versioning (an imported bucket may have none) would lose the earlier
copy for good. There the run's keys are written conditionally, as a timestamped run's are, and a
run that would replace another run's file is refused before anything is written
(``archive-unversioned``), naming the fix.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from artifact_contract import FileEntry, Manifest
from artifact_contract.sqlite_spool import SqliteSpool

from .checksum import crc_problem
from .context import FilingContext
from .exceptions import ArchiveChangedError, ArchiveUnversionedError
from .plumbing import head
from .storage import same_run

#: Keys named in the refusal of a run that would replace files; the count says how many more.
_NAMED_CONFLICTS = 5
#: HEADs in flight at once per batch of keys checked on an archive without versioning.
_HEAD_BATCH = 256

_SCHEMA = "CREATE TABLE versions (key TEXT PRIMARY KEY, version_id TEXT, etag TEXT);"


class WrittenVersions(SqliteSpool):
    """The version id and ETag each put or copy of this invocation answered, by archive key; on
    disk, so memory does not grow with the run.

    The ETags go into the run record for every run: each answer comes once S3 has checked the
    object's checksum against the one the record holds (a put's, S3 itself; a copy's, the filer
    against the copy's answer), so an object listed later with that ETag is that very object and
    ``verify`` settles it from a LIST, without a request of its own."""

    _holds = "list of written versions"

    def __init__(self, directory: str | None = None) -> None:
        super().__init__(_SCHEMA, prefix="artifact-versions-", directory=directory)

    def note(self, key: str, answer: Mapping[str, Any] | None) -> None:
        """Keep the version (an unversioned bucket's answers name none, or "null") and the ETag an
        answer names: a copy's ETag is in its ``CopyObjectResult``."""
        answer = answer or {}
        version = answer.get("VersionId")
        version = str(version) if version and version != "null" else None
        etag = answer.get("ETag") or (answer.get("CopyObjectResult") or {}).get("ETag")
        if version is None and not etag:
            return
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO versions (key, version_id, etag) VALUES (?, ?, ?)",
                             (key, version, str(etag) if etag else None))

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT version_id FROM versions WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def etag(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT etag FROM versions WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None


def track(ctx: FilingContext) -> None:
    """Before the run's files are written: note what every write answers (versions, ETags)."""
    if ctx.versions is None:
        ctx.versions = WrittenVersions()


def prepare(ctx: FilingContext, manifest: Manifest) -> None:
    """Before an untimestamped run writes anything: ask whether the archive keeps versions. With
    versions, note the ones written; without, refuse a run that would replace another run's file."""
    status = ctx.client.get_bucket_versioning(Bucket=ctx.archive_bucket).get("Status")
    ctx.versioned_archive = status == "Enabled"
    if not ctx.versioned_archive:
        refuse_replacing(ctx, manifest)


def conditional(ctx: FilingContext, manifest: Manifest) -> bool:
    """Whether the run's keys are written with ``IfNoneMatch='*'``: a timestamped run's always, an
    untimestamped run's unless the archive keeps the copies it replaces."""
    return manifest.timestamp is not None or not ctx.versioned_archive


def note(ctx: FilingContext, key: str, answer: Mapping[str, Any] | None) -> None:
    """Keep the version and ETag a put or copy answered."""
    if ctx.versions is not None:
        ctx.versions.note(key, answer)


def refuse_replacing(ctx: FilingContext, manifest: Manifest) -> None:
    """Refuse the run if any of its keys holds an object this run did not write (an earlier
    attempt's own objects are no conflict); one HEAD per file, in parallel batches."""
    conflicts: list[str] = []
    count = 0
    with ThreadPoolExecutor(ctx.workers(_HEAD_BATCH), "unversioned") as pool:
        for batch in _batches(manifest.files_in_key_order()):
            for key in pool.map(lambda item: _foreign(ctx, manifest, *item), batch):
                if key is not None:
                    count += 1
                    if len(conflicts) < _NAMED_CONFLICTS:
                        conflicts.append(key)
    if not count:
        return
    more = f" and {count - len(conflicts)} more" if count > len(conflicts) else ""
    raise ArchiveUnversionedError(
        f"the archive bucket {ctx.archive_bucket} keeps no versions, and this upload without a "
        f"timestamp would replace {count} file(s) of earlier runs ({', '.join(conflicts)}{more}), "
        "losing them: enable versioning on the archive bucket, then upload again (nothing was written)"
    )


def _batches(items: Iterator[tuple[FileEntry, str]]) -> Iterator[list[tuple[FileEntry, str]]]:
    batch: list[tuple[FileEntry, str]] = []
    for item in items:
        batch.append(item)
        if len(batch) == _HEAD_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _foreign(ctx: FilingContext, manifest: Manifest, entry: FileEntry, key: str) -> str | None:
    found = head(ctx, ctx.archive_bucket, key)
    if found is None or same_run(found.get("Metadata", {}), manifest, entry):
        return None
    return key


def lookup(ctx: FilingContext, manifest: Manifest) -> Any:
    """The run record's version of each file: as answered to this invocation, else found again."""
    if manifest.timestamp is not None or not ctx.versioned_archive or ctx.versions is None:
        return None
    versions = ctx.versions

    def version_of(entry: FileEntry, key: str) -> str | None:
        return versions.get(key) or find_version(ctx, manifest, entry, key)

    return version_of


def settle_etags(ctx: FilingContext, manifest: Manifest) -> None:
    """Before the record: the ETag of every file whose write this invocation did not see answered
    (filed by an earlier invocation, or by an earlier attempt, a 412 then), found by a HEAD, so that
    every attempt of a run writes the same record. An object that is not this run's, or does not
    hold the entry's checksum, gets none: ``verify`` then asks S3 for its checksum and says what
    it found. Undisturbed filings see every answer and make no request here."""
    written = ctx.versions
    if written is None:
        return
    with ThreadPoolExecutor(ctx.workers(_HEAD_BATCH), "etags") as pool:
        for batch in _batches(manifest.files_in_key_order()):
            unseen = [(entry, key) for entry, key in batch if written.etag(key) is None]
            for key, etag in pool.map(lambda item: _found_etag(ctx, manifest, *item), unseen):
                if etag:
                    written.note(key, {"ETag": etag})


def _found_etag(ctx: FilingContext, manifest: Manifest, entry: FileEntry, key: str) -> tuple[str, str | None]:
    found = head(ctx, ctx.archive_bucket, key, checksums=True)
    if found is None or not same_run(found.get("Metadata", {}), manifest, entry):
        return key, None
    if crc_problem(entry, found) is not None:
        return key, None
    return key, found.get("ETag")


def etag_lookup(ctx: FilingContext) -> Any:
    """The ETag each file's write answered this invocation; None for one it did not see answered
    (filed by an earlier invocation or attempt: ``verify`` then asks S3 for its checksum)."""
    written = ctx.versions
    if written is None:
        return None
    return lambda entry, key: written.etag(key)


def find_version(ctx: FilingContext, manifest: Manifest, entry: FileEntry, key: str) -> str | None:
    """The version of ``key`` this run wrote, for a file an earlier invocation filed: the current
    one, unless another run has replaced it since; then the newest of its versions that is this run's."""
    found = head(ctx, ctx.archive_bucket, key)
    if found is not None and same_run(found.get("Metadata", {}), manifest, entry):
        return _named(found)
    pages = ctx.client.get_paginator("list_object_versions").paginate(Bucket=ctx.archive_bucket, Prefix=key)
    for page in pages:
        for version in page.get("Versions", []):
            if version.get("Key") != key:
                continue
            older = ctx.client.head_object(Bucket=ctx.archive_bucket, Key=key, VersionId=version["VersionId"])
            if same_run(older.get("Metadata", {}), manifest, entry):
                return _named(older)
    raise ArchiveChangedError(f"archive object {key} holds no version that run {manifest.run_id} wrote")


def _named(answer: Mapping[str, Any]) -> str | None:
    version = answer.get("VersionId")
    return str(version) if version and version != "null" else None


def close(ctx: FilingContext) -> None:
    if ctx.versions is not None:
        ctx.versions.close()
        ctx.versions = None
