"""Verifying an archived object by the checksum S3 keeps for it: one HEAD, no body read.

S3 checks every body against its checksum as the object is written and keeps that checksum with it,
through lifecycle transitions: ``HeadObject(ChecksumMode="ENABLED")`` answers it for an object in
Glacier or Deep Archive too. A record that names the object's CRC64NVME is settled by comparing the
two: the filer makes S3 hold exactly that checksum for every object it writes, so any other answer
(another value, another algorithm, none) means the object is not the one the filer wrote.

A record written before it held a CRC64NVME names only the SHA-256, which S3 keeps as a checksum of
the whole object only when the object was written in one request; a multipart copy holds a checksum
of its parts' checksums (``…-N``). Such a file is verified by SHA-256 where S3 has a full-object one,
and otherwise reported as not settled (``verify --deep`` reads it), never passed.

A record written since also names the ETag of each object as the filer wrote it: a timestamped run's
files whose LIST entry shows that ETag need no HEAD at all (:func:`settled_by_listing`), which makes
verifying a run of many small files a matter of a few LIST pages.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Literal

from artifact_contract import CRC64NVME, META_SHA256, RecordedFile
from artifact_contract.s3 import is_aws_error, is_missing

from ._s3 import ListedObject, read_error

#: Every checksum algorithm S3 can keep for an object, as its API spells them (``Checksum{name}``).
ALGORITHMS = (CRC64NVME, "CRC32", "CRC32C", "SHA1", "SHA256")

#: S3's storage classes whose objects cannot be read (GET) until restored.
ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})

SETTLE = "`verify --deep` reads the bytes to settle it"


@dataclass(frozen=True)
class Verified:
    """The object is what the record says, by this checksum (``bytes``: read and hashed)."""

    by: str


@dataclass(frozen=True)
class Unsettled:
    """Neither good nor bad yet: ``needs`` a restore (Glacier, Deep Archive) or a ``verify --deep``."""

    needs: Literal["restore", "deep"]
    storage_class: str
    detail: str

    def to_dict(self, key: str) -> dict[str, str]:
        return {"key": key, "storage_class": self.storage_class, "needs": self.needs, "detail": self.detail}


@dataclass(frozen=True)
class Differs:
    """The object is not what the record says; what it is instead, as far as S3 said."""

    detail: str
    actual_size: int | None = None
    actual_sha256: str | None = None
    actual_checksum: dict[str, Any] | None = None


Outcome = Verified | Unsettled | Differs


@dataclass(frozen=True)
class StoredChecksum:
    """The one checksum S3 keeps for an object: its algorithm, value as S3 answers it, and whether it
    covers the whole object (``FULL_OBJECT``) or is a checksum of its parts' checksums."""

    algorithm: str
    value: str
    composite: bool

    def text(self) -> str:
        kind = "composite" if self.composite else "full-object"
        return f"a {kind} {self.algorithm} checksum ({self.value})"

    def to_dict(self) -> dict[str, Any]:
        return {"algorithm": self.algorithm, "value": self.value,
                "type": "COMPOSITE" if self.composite else "FULL_OBJECT"}


@dataclass(frozen=True)
class Stored:
    """What one HEAD says S3 holds for an object."""

    size: int
    storage_class: str
    checksum: StoredChecksum | None
    meta_sha256: str | None

    def checksum_text(self) -> str:
        return self.checksum.text() if self.checksum else "no checksum"


def _multipart_etag(etag: str) -> bool:
    """An ETag of an object assembled from parts ends in ``-N``."""
    _, dash, parts = etag.strip('"').rpartition("-")
    return bool(dash) and parts.isdigit()


def stored_checksum(response: dict[str, Any]) -> StoredChecksum | None:
    """The checksum a HEAD answered. A SHA or CRC32 value of a multipart object is composite: S3 says
    so in ``ChecksumType`` and by the ``-N`` ending; a server that says neither (moto) is read by the
    object's multipart ETag. CRC64NVME is always a checksum of the whole object."""
    for algorithm in ALGORITHMS:
        value = response.get(f"Checksum{algorithm}")
        if not value:
            continue
        kind = response.get("ChecksumType")
        if algorithm == CRC64NVME:
            composite = kind == "COMPOSITE"
        elif kind:
            composite = kind == "COMPOSITE" or "-" in value
        else:
            composite = "-" in value or _multipart_etag(str(response.get("ETag") or ""))
        return StoredChecksum(algorithm, value, composite)
    return None


#: ``verified_by`` of a file settled from the LIST: its ETag is the one the record names.
BY_ETAG = "ETag"


def settled_by_listing(file: RecordedFile, listed: ListedObject | None) -> Verified | None:
    """Verified without a request of its own when the run's LIST shows the very object the filer
    wrote: the record names the ETag S3 answered to that write, which came once the object's
    checksum had been checked against the record's (by S3 for a put, by the filer for a copy), and
    S3 keeps an object's ETag and checksum through lifecycle transitions. Anything else (no ETag
    recorded, another ETag, another size) is asked by HEAD."""
    if file.etag is None or listed is None or listed.size != file.size:
        return None
    return Verified(BY_ETAG) if listed.etag.strip('"') == file.etag.strip('"') else None


def head_stored(client: Any, bucket: str, file: RecordedFile) -> Stored | None:
    """The object's size, storage class and checksum (of the version the record names, when it names
    one), or None when it is not there."""
    try:
        response = client.head_object(Bucket=bucket, Key=file.key, ChecksumMode="ENABLED",
                                      **file.version_args())
    except Exception as exc:
        if is_missing(exc):
            return None
        if is_aws_error(exc):
            raise read_error(exc, bucket=bucket, action=f"reading {file.key}") from None
        raise
    metadata = response.get("Metadata") or {}
    return Stored(int(response.get("ContentLength", 0)), response.get("StorageClass") or "STANDARD",
                  stored_checksum(response), metadata.get(META_SHA256))


def sha256_hex(value: str) -> str | None:
    """The hex SHA-256 of a full-object ``ChecksumSHA256`` (base64 of the digest)."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


def compare_head(file: RecordedFile, stored: Stored) -> Outcome:
    """Whether what S3 holds is what the record says, by size and stored checksum alone."""
    actual_sha = (sha256_hex(stored.checksum.value) if stored.checksum and not stored.checksum.composite
                  and stored.checksum.algorithm == "SHA256" else None)
    if stored.size != file.size:
        return _different(stored, actual_sha,
                          f"its size differs from the run record: S3 holds {stored.size} bytes, the record "
                          f"{file.size}")
    if file.crc64nvme is not None:
        return _by_crc(file, stored, actual_sha)
    return _by_sha256(file, stored, actual_sha)


def _by_crc(file: RecordedFile, stored: Stored, actual_sha: str | None) -> Outcome:
    checksum = stored.checksum
    if checksum is None or checksum.algorithm != CRC64NVME:
        return _different(stored, actual_sha,
                          f"S3 holds {stored.checksum_text()}, not the CRC64NVME {file.crc64nvme} of the "
                          f"run record: the object is not the one the filer wrote; {SETTLE}")
    if checksum.value != file.crc64nvme:
        return _different(stored, actual_sha,
                          f"S3 holds the CRC64NVME {checksum.value}, the run record {file.crc64nvme}; "
                          f"{SETTLE}")
    return _metadata_checked(file, stored, actual_sha, Verified(CRC64NVME))


def _by_sha256(file: RecordedFile, stored: Stored, actual_sha: str | None) -> Outcome:
    if actual_sha is None:
        needs: Literal["deep", "restore"] = "restore" if stored.storage_class in ARCHIVE_CLASSES else "deep"
        then = ("restore it, then `verify --deep` reads it" if needs == "restore"
                else "`verify --deep` reads it")
        return Unsettled(needs, stored.storage_class,
                         f"recorded before full-object checksums, and S3 holds {stored.checksum_text()}: "
                         f"{then}")
    if actual_sha != file.sha256:
        return _different(stored, actual_sha,
                          f"S3 holds the SHA-256 {actual_sha}, the run record {file.sha256}; {SETTLE}")
    return _metadata_checked(file, stored, actual_sha, Verified("SHA256"))


def _metadata_checked(file: RecordedFile, stored: Stored, actual_sha: str | None,
                      verified: Verified) -> Outcome:
    """The filer also writes the SHA-256 into the object's metadata: a HEAD answers it for free."""
    if stored.meta_sha256 is not None and stored.meta_sha256 != file.sha256:
        return _different(stored, actual_sha,
                          f"its checksum matches the run record but its sha256 metadata "
                          f"({stored.meta_sha256}) does not")
    return verified


def _different(stored: Stored, actual_sha: str | None, detail: str) -> Differs:
    return Differs(detail, stored.size, actual_sha, stored.checksum.to_dict() if stored.checksum else None)
