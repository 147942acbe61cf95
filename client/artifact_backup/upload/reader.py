"""What s3transfer reads a piece from: the file, strictly, and without a fresh buffer per read.

s3transfer reads a part twice, once for botocore's checksum and once for urllib3 to send, in
chunks of 1 MiB and 128 KiB. A new ``bytes`` for every chunk makes the kernel fault in and zero
fresh pages for each: profiles of a 2.7 GB upload showed half the client's CPU in the kernel,
mostly there. Reading into one buffer per open file instead took the client's system time from
6 s to 2.5 s (bench/, the GIS folder on moto).
"""

from __future__ import annotations

from typing import Any

from ..pack import shrank

#: Reads up to this size go into the reader's own buffer; a larger one (a whole part asked for at
#: once) gets a buffer of its own, so a reader never holds more than this beyond the file's.
REUSED_READ_MAX = 1024 * 1024


class StrictReader:
    """A file s3transfer sends from, that refuses to come up short and reuses its read buffer.

    s3transfer is told each piece's size up front and reads exactly that much; a file that shrank
    since it was listed would otherwise send a body shorter than its Content-Length, and the request
    would hang until the read timeout, then be retried and hang again, for minutes.

    ``read(n)`` returns a view of the reader's one buffer, valid until the next ``read``: every
    consumer on this path (botocore's checksum, its aws-chunked framing over https, urllib3's send)
    uses a chunk before it asks for the next. The view compares, concatenates and sends like bytes.
    """

    def __init__(self, handle: Any, path: str) -> None:
        self._handle = handle
        self._path = path
        self._buffer = memoryview(bytearray(0))

    def read(self, amount: int | None = -1) -> Any:
        if amount is None or amount < 0:
            return self._handle.read()
        if amount > REUSED_READ_MAX:
            data = self._handle.read(amount)
        else:
            if len(self._buffer) < amount:
                self._buffer = memoryview(bytearray(amount))
            data = self._buffer[: self._handle.readinto(self._buffer[:amount])]
        if len(data) < amount:
            raise shrank(self._path)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> StrictReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


def strict_osutil() -> Any:
    """s3transfer's file access, with every file opened for reading read by :class:`StrictReader`."""
    from s3transfer.utils import OSUtils

    class StrictOSUtils(OSUtils):
        def open(self, filename: str, mode: str) -> Any:
            handle = super().open(filename, mode)
            return StrictReader(handle, filename) if "r" in mode else handle

    return StrictOSUtils()
