"""Verifying an archived object by its bytes: ``verify --deep``.

Each object (the version the record names, when it names one) is streamed through SHA-256 with
bounded memory and compared with the record. This settles what a stored checksum cannot (records
older than full-object checksums, an object S3 holds another checksum for), at the price of a GET
and a download per file; objects in Glacier or Deep Archive cannot be read until restored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from artifact_contract import META_SHA256, RecordedFile
from artifact_contract.s3 import body_of, error_code, is_aws_error, is_missing

from ._s3 import read_error
from .verify_heads import Differs, Outcome, Unsettled, Verified

#: S3 answers this for an object in Glacier or Deep Archive that has not been restored.
_ARCHIVED = "InvalidObjectState"


@dataclass(frozen=True)
class Read:
    """What reading an object found: its size and SHA-256, and the SHA-256 its metadata claims."""

    size: int
    sha256: str
    meta_sha256: str | None


def read_object(client: Any, bucket: str, file: RecordedFile, chunk: int,
                storage_class: str = "GLACIER") -> Read | Unsettled | None:
    """The size and SHA-256 of the recorded object from its bytes; None when it is gone, Unsettled
    when it must be restored before it can be read (``storage_class``: where the listing saw it)."""
    key = file.key
    try:
        response = client.get_object(Bucket=bucket, Key=key, **file.version_args())
    except Exception as exc:
        if is_missing(exc):
            return None
        if error_code(exc) == _ARCHIVED:
            return Unsettled("restore", storage_class, "in an archive storage class: restore it to verify it")
        if is_aws_error(exc):
            raise read_error(exc, bucket=bucket, action=f"reading {key}") from None
        raise
    digest = hashlib.sha256()
    size = 0
    try:
        with body_of(response) as body:
            while block := body.read(chunk):
                digest.update(block)
                size += len(block)
    except Exception as exc:
        if is_aws_error(exc):
            raise read_error(exc, bucket=bucket, action=f"reading {key}") from None
        raise
    metadata = response.get("Metadata") or {}
    return Read(size, digest.hexdigest(), metadata.get(META_SHA256))


def compare_read(file: RecordedFile, found: Read) -> Outcome:
    """Whether the bytes read are the ones the record names."""
    if found.size != file.size or found.sha256 != file.sha256:
        what = "size and SHA-256 differ" if found.size != file.size else "SHA-256 differs"
        return Differs(f"its {what} from the run record", found.size, found.sha256)
    if found.meta_sha256 is not None and found.meta_sha256 != file.sha256:
        return Differs("its bytes match the record but its sha256 metadata does not",
                       found.size, found.sha256)
    return Verified("bytes")
