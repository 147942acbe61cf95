"""How the client, the archive reader and the filer tell S3's answers apart: one vocabulary.

Standard library only: an error is read by its shape (botocore's ``ClientError`` carries a
``response`` dict), never by importing botocore, so the contract stays free of the AWS SDK.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

#: Error codes (and the bare status S3 sends for a HEAD, which has no body) of each kind of answer.
MISSING_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})
PRECONDITION_CODES = frozenset({"PreconditionFailed", "412"})
CONFLICT_CODES = frozenset({"ConditionalRequestConflict", "409"})
DENIED_CODES = frozenset({"AccessDenied", "403"})

_SDK_MODULES = ("botocore", "boto3", "s3transfer", "urllib3", "awscrt")


def _response(exc: BaseException) -> Mapping[str, Any] | None:
    response = getattr(exc, "response", None)
    return response if isinstance(response, Mapping) else None


def _status(exc: BaseException) -> int | None:
    response = _response(exc)
    if response is None:
        return None
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return int(status) if status else None


def error_code(exc: BaseException) -> str | None:
    """The S3 error code of an answer (``NoSuchKey``, ``PreconditionFailed``...); its HTTP status
    when the answer had no body (a HEAD); None for anything that is not an answer from S3."""
    response = _response(exc)
    if response is None:
        return None
    code = (response.get("Error") or {}).get("Code")
    if code:
        return str(code)
    status = _status(exc)
    return str(status) if status else None


# Each is decided by the error code, and by the bare status only for an answer without a body (a
# HEAD's): a 404 ``NoSuchBucket`` is not a missing key, nor a 403 ``InvalidAccessKeyId`` a denial
# of one object, and treating them so would hide a wrong bucket or wrong credentials.


def is_missing(exc: BaseException) -> bool:
    """A 404 of GetObject or HeadObject: the key does not exist."""
    return error_code(exc) in MISSING_CODES


def is_precondition_failed(exc: BaseException) -> bool:
    """A 412: ``IfNoneMatch='*'`` met an existing object, or ``IfMatch`` a replaced one."""
    return error_code(exc) in PRECONDITION_CODES


def is_conflict(exc: BaseException) -> bool:
    """A 409: another conditional write on the same key was in flight; trying again settles it."""
    return error_code(exc) in CONFLICT_CODES


def is_denied(exc: BaseException) -> bool:
    """A 403. Without ``s3:ListBucket``, S3 also answers 403 for a key that does not exist."""
    return error_code(exc) in DENIED_CODES


def is_aws_error(exc: BaseException) -> bool:
    """Whether the AWS SDK or its HTTP layer raised ``exc`` (an answer, or a connection that failed),
    as opposed to a bug or a local problem of ours. awscrt counts: botocore signs and checksums
    through it once it is installed."""
    return type(exc).__module__.startswith(_SDK_MODULES)


def body_of(response: Mapping[str, Any]) -> contextlib.closing[Any]:
    """A GetObject answer's body, to read in a ``with`` block that closes it.

    Never ``with response["Body"] as body``: botocore's ``StreamingBody.__enter__`` returns the raw
    urllib3 stream, which skips the body's own checks of the Content-Length and the response
    checksum. From botocore 1.44 on, urllib3 is told not to check the length either, so an answer
    cut off half-way would read as a short body ending cleanly. Read through the ``StreamingBody``,
    a cut-off raises ``IncompleteReadError``.
    """
    return contextlib.closing(response["Body"])


def now_iso() -> str:
    """Now, as every document of the contract writes a time: UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- S3's limits on objects and multipart transfers ------------------------------------------

MiB = 1024 * 1024
#: A multipart upload or copy has at most this many parts, each of 5 MiB to 5 GiB (the last may be
#: smaller), and an object is at most 5 TiB.
MAX_PARTS = 10_000
MIN_PART_BYTES = 5 * MiB
MAX_PART_BYTES = 5 * 1024 * MiB
MAX_OBJECT_BYTES = 5 * 1024 * 1024 * MiB


def part_size(size: int, preferred: int) -> int:
    """The part size for a multipart transfer of ``size`` bytes: ``preferred`` when that makes at
    most 10,000 parts, else the smallest whole number of MiB that does, within S3's part limits.

    A 100 GB file in 8 MiB parts would need 12,800 parts, which S3 refuses at the last part; the
    size is raised up front rather than failing hours into a transfer.
    """
    if size > MAX_OBJECT_BYTES:
        raise ValueError(f"{size} bytes is more than the {MAX_OBJECT_BYTES} an S3 object may hold")
    chunk = min(max(preferred, MIN_PART_BYTES), MAX_PART_BYTES)
    if -(-size // chunk) <= MAX_PARTS:
        return chunk
    needed = -(-size // MAX_PARTS)
    return min(-(-needed // MiB) * MiB, MAX_PART_BYTES)


def part_ranges(size: int, preferred: int) -> list[tuple[int, int, int]]:
    """``(part number, first byte, last byte)`` of each part of a ``size``-byte multipart transfer."""
    chunk = part_size(size, preferred)
    return [(n, first, min(first + chunk, size) - 1) for n, first in enumerate(range(0, size, chunk), 1)]
