"""Each part's CRC32C, taken in the read that hashes a piece, so that sending it is its only other read.

S3 checks every part of a piece against its CRC32C (``upload/sender.py``). Left to itself, botocore
takes that checksum by reading the part once more before it sends it whenever the endpoint speaks
plain HTTP (a local or on-premises server); over HTTPS it computes it while the part streams and
sends it as a trailer, in the one read. The client already reads every byte of a piece once, to
hash it: over plain HTTP, taking the CRC32C in that read too spares the extra read (about a fifth
of the client's CPU per GiB sent to a local moto, docs/performance.md), and it ties what the
server accepts to the bytes that were hashed: a file rewritten between its hash and its send is
refused by the server itself, with ``BadDigest``. Over HTTPS the values are not used
(:mod:`artifact_backup.upload.part_checksums` says why).

A part the hash has not reached yet when it is sent (a large file is sent while it is hashed) gets
no value here, and botocore takes its checksum as before.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable


@functools.cache
def _crc32c() -> Callable[..., int]:
    """awscrt's CRC32C (the CPU's CRC instruction), imported on first use like the CRC64NVME."""
    from awscrt.checksums import crc32c

    return crc32c


def crc32c_b64(crc: int) -> str:
    """A CRC32C as S3 writes it (``x-amz-checksum-crc32c``): base64 of the 4 big-endian bytes."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")


class PartCrcs:
    """The CRC32C of every ``part_size`` bytes fed in order, each published once its part is whole.

    One thread feeds (the hash's, or the pack writer's); the sender's threads read :meth:`part`
    meanwhile. A finished part is only ever appended to a list, which they read without a lock.
    """

    __slots__ = ("part_size", "_done", "_crc", "_filled")

    def __init__(self, part_size: int) -> None:
        if part_size < 1:
            raise ValueError("part_size must be at least 1")
        self.part_size = part_size
        self._done: list[str] = []
        self._crc = 0
        self._filled = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        crc32c = _crc32c()
        view = memoryview(data)
        while len(view):
            take = min(len(view), self.part_size - self._filled)
            self._crc = crc32c(view[:take], self._crc)
            self._filled += take
            view = view[take:]
            if self._filled == self.part_size:
                self._finish_part()

    def close(self) -> None:
        """The bytes have ended: a last, shorter part is whole too."""
        if self._filled:
            self._finish_part()

    def _finish_part(self) -> None:
        self._done.append(crc32c_b64(self._crc))
        self._crc = 0
        self._filled = 0

    @property
    def parts_done(self) -> int:
        return len(self._done)

    def part(self, number: int) -> str | None:
        """Part ``number``'s (from 1) CRC32C as S3 writes it; None while the part is not yet read."""
        done = self._done
        return done[number - 1] if 0 < number <= len(done) else None
