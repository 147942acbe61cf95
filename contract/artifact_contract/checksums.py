"""CRC64NVME, the full-object checksum S3 keeps for every object the filer writes.

S3 stores one checksum per object and checks each body against it as the object is written. For
an object put or copied in one request any algorithm is a checksum of the whole object; for one
assembled from parts only the CRC algorithms are (a multipart SHA-256 is a checksum of the parts'
checksums, ``…-N``). So the client computes the CRC64NVME of every file beside its SHA-256, the
manifest carries it, the filer makes S3 hold exactly it for every archived object however it got
there, and the run record keeps it: ``verify`` then compares what S3 holds with the record by HEAD
alone, for objects in Glacier too.

The value is written as S3 writes it (``x-amz-checksum-crc64nvme``): the base64 of the 8-byte
big-endian CRC. awscrt computes it (with the carry-less multiply instructions where the processor
has them), the same code botocore uses for this checksum.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable

#: The algorithm's name in S3's API (``ChecksumAlgorithm``, ``Checksum{name}``).
CRC64NVME = "CRC64NVME"


@functools.cache
def _crc64nvme() -> Callable[..., int]:
    """awscrt's function, imported on first use: loading the native library takes tens of
    milliseconds that commands which never checksum (and the CDK app) should not pay."""
    from awscrt.checksums import crc64nvme

    return crc64nvme


class Crc64Nvme:
    """The CRC64NVME of bytes fed in pieces, as :mod:`hashlib` objects are fed."""

    __slots__ = ("_crc",)

    def __init__(self, data: bytes = b"") -> None:
        self._crc = _crc64nvme()(data) if data else 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._crc = _crc64nvme()(data, self._crc)

    def b64(self) -> str:
        """The checksum as S3 writes it."""
        return base64.b64encode(self._crc.to_bytes(8, "big")).decode("ascii")


def crc64nvme_b64(data: bytes | bytearray | memoryview) -> str:
    """The CRC64NVME of ``data`` as S3 writes it."""
    crc = Crc64Nvme()
    crc.update(data)
    return crc.b64()


def is_crc64nvme_b64(value: object) -> bool:
    """Whether ``value`` is a CRC64NVME as S3 writes it: base64 of exactly 8 bytes, canonical."""
    if not isinstance(value, str) or len(value) != 12:
        return False
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) == 8 and base64.b64encode(raw).decode("ascii") == value
