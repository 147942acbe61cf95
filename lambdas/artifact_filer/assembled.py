"""Checking a multipart copy: by its full-object CRC64NVME where the entry has one, else by S3's
composite SHA-256 of the parts it was made of.

A CRC64NVME copy is FULL_OBJECT and its completion carries the entry's value, so S3 refuses to
assemble anything else; what it answers (or a HEAD, where the completion answers none, as moto's)
is compared with the entry all the same, and an object holding another value is removed: a
reused file's run is then refused (only the copy proves its value), a blob's copy made again (its
bytes, CRC64NVME included, were verified: the assembly was wrong, not the run).

The rest concerns the SHA-256 copies of entries without a CRC64NVME (manifests of older clients).

With ``ChecksumAlgorithm='SHA256'``, each UploadPartCopy answers the SHA-256 of the part it copied,
and CompleteMultipartUpload the object's composite checksum: the SHA-256 of those parts' SHA-256
digests in order, followed by ``-`` and the number of parts. Computing it from the parts the filer
copied and comparing proves the archive object is exactly those parts, in that order: a part left
out, repeated or taken from another upload would show. A server that gives no composite checksum
(moto) leaves nothing to compare; the pieces were verified byte by byte before the copy anyway.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from artifact_contract import FileEntry

from .checksum import written_crc_problem
from .context import FilingContext
from .exceptions import ArchiveChangedError, FilerRefusedError


def composite_sha256(part_checksums: Sequence[str]) -> str:
    """S3's composite SHA-256 of an object made of parts with these (base64) checksums."""
    digest = hashlib.sha256(b"".join(base64.b64decode(c) for c in part_checksums)).digest()
    return f"{base64.b64encode(digest).decode()}-{len(part_checksums)}"


def assembled_problem(completed: Mapping[str, Any], parts: Sequence[Mapping[str, Any]]) -> str | None:
    """What is wrong with the completed object, or ``None`` when it matches (or cannot be checked)."""
    if not isinstance(completed, Mapping):
        return None
    answered = completed.get("ChecksumSHA256")
    checksums = [part.get("ChecksumSHA256") for part in parts]
    if not answered or "-" not in answered or not all(checksums):
        return None
    expected = composite_sha256([str(c) for c in checksums])
    if answered != expected:
        return f"S3 assembled it with the checksum {answered}, not {expected} of the parts copied"
    return None


def check_assembled(
    ctx: FilingContext,
    key: str,
    completed: Mapping[str, Any] | None,
    parts: Sequence[Mapping[str, Any]],
    entry: FileEntry | None = None,
    changed: Callable[[], FilerRefusedError] | None = None,
) -> None:
    """Remove an object not assembled as it should be and fail: by ``changed()`` when it does not
    hold the entry's CRC64NVME, else (composite SHA-256) transiently, so the copy is made again."""
    if entry is not None and entry.crc64nvme is not None:
        problem = written_crc_problem(ctx, entry, key, completed)
        if problem is None:
            return
        _remove(ctx, key, problem)
        if changed is not None:
            raise changed()
        raise ArchiveChangedError(f"archive object {key}: {problem}")
    problem = assembled_problem(completed or {}, parts)
    if problem is None:
        return
    _remove(ctx, key, problem)
    raise ArchiveChangedError(f"archive object {key}: {problem}")


def _remove(ctx: FilingContext, key: str, problem: str) -> None:
    ctx.log.error("a multipart copy was assembled wrongly", extra={"key": key, "problem": problem})
    try:
        ctx.client.delete_object(Bucket=ctx.archive_bucket, Key=key)
    except Exception as exc:  # the filer's role may not delete in the archive: leave it, say so
        ctx.log.error("could not remove a wrongly assembled copy", extra={"key": key, "error": str(exc)})
