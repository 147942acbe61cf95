"""Reused files: finding and checking their earlier copies, and keeping the project's reuse index.

A reused file is not in staging; the manifest names only its SHA-256. The filer looks the checksum up
in the reuse index it wrote itself (``index/{project}/reuse.json`` in staging, which the uploader may
read but not write) and, before anything is written to the archive, checks the archived copy with a
HEAD: it must lie in the same project, carry the same ``sha256`` metadata and project key, have the
declared size, and be copyable (not in Glacier or an archive tier). Only then is it copied server-side
under the new run's key, as a blob is.

The index is kept with conditional writes (``IfMatch`` on the ETag read, ``IfNoneMatch`` when new),
so two runs filed at once merge rather than overwrite each other; if the writes keep colliding the
update is given up: a missing entry only means the next run sends that file again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from artifact_contract import (
    META_PROJECT_KEY,
    META_SHA256,
    FileEntry,
    IndexedFile,
    Manifest,
    ReuseIndex,
    ReuseIndexInvalidError,
    archive_key,
    reuse_index_key,
    runs_prefix,
)
from artifact_contract.s3 import body_of, is_conflict, is_missing, is_precondition_failed

from .exceptions import ReuseUnavailableError
from .storage import JSON_TYPE, metadata_value

#: Storage classes S3 cannot copy from without a restore; an Intelligent-Tiering object in an
#: archive tier reports ``ArchiveStatus`` instead.
UNCOPYABLE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
#: Error codes of a CopyObject whose source cannot be read as it is.
UNCOPYABLE_CODES = frozenset({"InvalidObjectState", "ObjectNotInActiveTierError"})
_INDEX_WRITE_ATTEMPTS = 5

log = logging.getLogger(__name__)


def index_problem(project_key: str, entry: FileEntry, indexed: IndexedFile | None) -> str | None:
    """Why the index offers no copy for ``entry``, or None when it names one worth a HEAD.

    The key comes from the filer's own index, yet is still checked to lie in the project's folder,
    outside its run records.
    """
    if indexed is None:
        return "no earlier copy is known"
    if indexed.size != entry.size:
        return f"the known copy has {indexed.size} bytes, not {entry.size}"
    if not indexed.key.startswith(f"{project_key}/") or indexed.key.startswith(runs_prefix(project_key)):
        return f"the known copy {indexed.key} is outside the project's folder"
    return None


def copy_problem(
    project_key: str, entry: FileEntry, key: str, head: Mapping[str, Any] | None
) -> str | None:
    """Why the archived object at ``key`` cannot stand in for ``entry``, or None when it can.

    The object's own metadata must vouch for the content and the project, and S3 must be able to copy
    it as it is (a Glacier object cannot be the source of a copy).
    """
    if head is None:
        return f"the copy {key} is no longer in the archive"
    metadata = head.get("Metadata", {})
    if metadata.get(META_SHA256) != entry.sha256:
        return f"the copy {key} now holds other content"
    if metadata.get(META_PROJECT_KEY) != metadata_value(project_key):
        return f"the copy {key} belongs to another project"
    if int(head.get("ContentLength", -1)) != entry.size:
        return f"the copy {key} has {head.get('ContentLength')} bytes, not {entry.size}"
    stored = head.get("ChecksumCRC64NVME")  # absent on copies written with SHA-256 (older runs)
    if entry.crc64nvme is not None and stored and stored != entry.crc64nvme:
        return f"the copy {key} has the crc64nvme {stored}, the manifest declares {entry.crc64nvme}"
    storage = head.get("StorageClass") or "STANDARD"
    if storage in UNCOPYABLE_CLASSES or head.get("ArchiveStatus"):
        return f"the copy {key} is in {head.get('ArchiveStatus') or storage} and cannot be copied"
    return None


def unavailable(manifest: Manifest, problems: Mapping[str, str]) -> ReuseUnavailableError:
    """The refusal for reused files without a usable copy; its reason tells the client to re-send."""
    by_sha = {f.sha256: f for f in manifest.reused}
    sha, problem = next(iter(sorted(problems.items())))
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return ReuseUnavailableError(
        f"{by_sha[sha].member_name} was listed as unchanged, but {problem}{more}: "
        "send the run again with the file itself",
        tuple(sorted(problems)),
    )


def indexed_files(manifest: Manifest, blob_ids: Iterable[str], filed_at: str) -> list[IndexedFile]:
    """The run's large files (blobs and reused ones) as index entries pointing at their new keys."""
    return [
        IndexedFile(
            f.sha256, f.size, archive_key(manifest.project_key, f.type, manifest.timestamp, f.path),
            manifest.run_id, filed_at,
        )
        for f in manifest.carried_by(blob_ids, reused=True)
    ]


def read_index(client: Any, bucket: str, project_key: str) -> tuple[ReuseIndex, str | None]:
    """The project's index and its ETag (None when there is none); an unreadable one counts as empty."""
    key = reuse_index_key(project_key)
    try:
        response = client.get_object(Bucket=bucket, Key=key)
    except Exception as exc:
        if is_missing(exc):
            return ReuseIndex(project_key), None
        raise
    with body_of(response) as body:
        raw = body.read()
    try:
        return ReuseIndex.from_json(raw, project_key), response.get("ETag")
    except ReuseIndexInvalidError as exc:
        log.warning("unreadable reuse index is replaced", extra={"key": key, "error": str(exc)})
        return ReuseIndex(project_key), response.get("ETag")


def update_index(
    client: Any, bucket: str, project_key: str, change: Callable[[ReuseIndex], ReuseIndex]
) -> bool:
    """Apply ``change`` to the stored index with conditional writes; False when it was given up."""
    key = reuse_index_key(project_key)
    for _ in range(_INDEX_WRITE_ATTEMPTS):
        current, etag = read_index(client, bucket, project_key)
        updated = change(current)
        if updated == current and etag is not None:
            return True
        condition = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
        try:
            client.put_object(Bucket=bucket, Key=key, Body=updated.to_json(), ContentType=JSON_TYPE,
                              **condition)
            return True
        except Exception as exc:
            if is_precondition_failed(exc) or is_conflict(exc):
                continue  # another filer wrote it in between: read again and merge
            raise
    log.warning("reuse index kept changing under this filer; update given up", extra={"key": key})
    return False

