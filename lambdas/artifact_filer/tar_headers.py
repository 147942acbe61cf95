"""Bounds on the tar headers a pack may carry, checked before ``tarfile`` reads them.

``tarfile`` reads a PAX extended header or a GNU long name whole into memory, and follows one
header after another for the same member. The cap on a pack's decompressed bytes grows with the
files it lists, so a pack listing 100,000 one-byte files may decompress to 800 MB, and one PAX record
could fill that: the filer's memory, not the pack's size, would bound it. Here every member's
extended headers together are held to a setting (``FilerConfig.max_extended_header_bytes``), and the
sparse-file headers, which describe a layout no regular file has, are refused before their maps are
read.
"""

from __future__ import annotations

import tarfile
from typing import Any

from artifact_contract import RefusalCode

from .config import DEFAULT_MAX_EXTENDED_HEADER_BYTES
from .exceptions import MemberRefusedError, PackBombError

#: Where the bytes of one member's extended headers are counted, on the open ``TarFile``.
_COUNTER = "_artifact_extended_bytes"


class BoundedTarInfo(tarfile.TarInfo):
    """A ``TarInfo`` that refuses extended headers beyond ``limit`` bytes per member, and sparse files."""

    limit = DEFAULT_MAX_EXTENDED_HEADER_BYTES
    piece_id = ""

    def _count(self, tar: Any) -> None:
        used = getattr(tar, _COUNTER, 0) + tarfile.BLOCKSIZE + self._block(self.size)
        if used > self.limit:
            raise PackBombError(
                f"pack {self.piece_id} has a member whose extended tar headers (PAX records, GNU long "
                f"names) exceed {self.limit} bytes: a file's name and attributes never need that much"
            )
        setattr(tar, _COUNTER, used)

    def _proc_pax(self, tar: Any) -> Any:
        self._count(tar)
        return super()._proc_pax(tar)

    def _proc_gnulong(self, tar: Any) -> Any:
        self._count(tar)
        return super()._proc_gnulong(tar)

    def _proc_builtin(self, tar: Any) -> Any:
        # The member the headers were for: the next member's headers count afresh.
        setattr(tar, _COUNTER, 0)
        return super()._proc_builtin(tar)

    def _sparse(self, *_: Any) -> Any:
        raise MemberRefusedError(
            f"pack {self.piece_id} holds a sparse file ({self.name!r}): only regular files are filed",
            RefusalCode.MEMBER_FORBIDDEN,
        )

    _proc_sparse = _sparse
    _proc_gnusparse_00 = _sparse
    _proc_gnusparse_01 = _sparse
    _proc_gnusparse_10 = _sparse


def bounded_tarinfo(limit: int, piece_id: str) -> type[BoundedTarInfo]:
    """The ``tarinfo`` class for ``tarfile.open`` that holds a pack to ``limit`` bytes of headers."""
    return type("BoundedTarInfo", (BoundedTarInfo,), {"limit": limit, "piece_id": piece_id})
