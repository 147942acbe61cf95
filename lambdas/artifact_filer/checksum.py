"""Which checksum S3 keeps for each archived object, and whether what it holds is the run's.

S3 keeps one checksum per object. For a file whose manifest entry has a CRC64NVME, every write
makes S3 keep exactly that value, full-object, however the object got there: a put sends it (S3
refuses a body that does not match), a copy asks S3 to compute it from the bytes copied (compared
with the entry's afterwards), a multipart copy is made ``FULL_OBJECT`` and given the value at
completion (S3 refuses an assembly that does not match). The run record holds the same value, so
``verify`` compares the two by HEAD alone, for objects in Glacier too. A SHA-256 cannot serve: S3
keeps a multipart SHA-256 only as a checksum of the parts' checksums. Files of manifests from
clients that predate the CRC64NVME are written with their SHA-256, as they always were; the SHA-256
stays in every object's metadata either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from artifact_contract import CRC64NVME, FileEntry

from .context import FilingContext
from .plumbing import head
from .storage import sha256_b64

#: The answer field (``CopyObjectResult``, completion, HEAD) and header carrying the CRC64NVME.
CRC_FIELD = f"Checksum{CRC64NVME}"
CRC_HEADER = "x-amz-checksum-crc64nvme"


def algorithm(entry: FileEntry) -> str:
    """The checksum algorithm S3 keeps for the entry's archived object."""
    return CRC64NVME if entry.crc64nvme is not None else "SHA256"


def put_checksum(entry: FileEntry) -> dict[str, str]:
    """The checksum a put of the entry's bytes sends, for S3 to check the body against and keep."""
    if entry.crc64nvme is not None:
        return {CRC_FIELD: entry.crc64nvme}
    return {"ChecksumSHA256": sha256_b64(entry.sha256)}


def crc_problem(entry: FileEntry, stored: Mapping[str, Any]) -> str | None:
    """Why an object S3 answered for (a HEAD with ``ChecksumMode``, a copy's result, a completion)
    does not hold the entry's CRC64NVME as a full-object checksum; None when it does, or when the
    entry has none to compare."""
    if entry.crc64nvme is None:
        return None
    found = stored.get(CRC_FIELD)
    if not found:
        kept = sorted(k[len("Checksum"):] for k in stored if k.startswith("Checksum") and k != "ChecksumType")
        return f"S3 keeps {' and '.join(kept) or 'no checksum'} for it, not the crc64nvme {entry.crc64nvme}"
    if found != entry.crc64nvme:
        return f"S3 computed the crc64nvme {found}, the manifest declares {entry.crc64nvme}"
    if stored.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
        return f"S3 keeps a {stored['ChecksumType']} crc64nvme for it, not a full-object one"
    return None


def written_crc_problem(
    ctx: FilingContext, entry: FileEntry, key: str, answered: Mapping[str, Any] | None
) -> str | None:
    """Why the object just written at ``key`` does not hold the entry's CRC64NVME; None when it
    does. Taken from the write's answer, or (a server that answers none, as moto's completions)
    from a HEAD."""
    if entry.crc64nvme is None:
        return None
    if answered is None or not answered.get(CRC_FIELD):
        answered = head(ctx, ctx.archive_bucket, key, checksums=True) or {}
    return crc_problem(entry, answered)
