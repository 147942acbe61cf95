"""Checking a multipart copy against the parts it was made of, by S3's composite checksum.

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
from collections.abc import Mapping, Sequence
from typing import Any

from .context import FilingContext
from .exceptions import ArchiveChangedError


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


def check_assembled(ctx: FilingContext, key: str, completed: Mapping[str, Any],
                    parts: Sequence[Mapping[str, Any]]) -> None:
    """Remove an object not assembled from exactly ``parts`` and fail, so the copy is made again."""
    problem = assembled_problem(completed, parts)
    if problem is None:
        return
    ctx.log.error("a multipart copy was assembled wrongly", extra={"key": key, "problem": problem})
    try:
        ctx.client.delete_object(Bucket=ctx.archive_bucket, Key=key)
    except Exception as exc:  # the filer's role may not delete in the archive: leave it, say so
        ctx.log.error("could not remove a wrongly assembled copy", extra={"key": key, "error": str(exc)})
    raise ArchiveChangedError(f"archive object {key}: {problem}")
