"""The parts a manifest lists: its pieces, and its files with the piece (or reuse) carrying each.

They live apart from :mod:`.manifest` so that the spool (:mod:`.spool`), which the manifest keeps its
files in, can build them without importing the manifest itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

PieceKind = Literal["pack", "blob"]


@dataclass(frozen=True, slots=True)
class Piece:
    """One staging object of the run: a pack of small files, or one large file's content."""

    id: str
    kind: PieceKind
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class Reuse:
    """A file the client does not send: the filer copies it from the archive's earlier copy.

    Only the checksum travels; which archive object holds it is the filer's own knowledge (its reuse
    index), so a client can never point the filer at an object of its choosing.
    """

    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of the run, where it is filed and which piece carries it.

    ``piece`` is None exactly when ``reuse`` is set: the file is not in staging, the filer copies it
    from an earlier run's copy in the archive.
    """

    type: str
    path: str
    size: int
    sha256: str
    piece: str | None
    reuse: Reuse | None = None
    #: The file's CRC64NVME as S3 writes it (:mod:`.checksums`); None from clients that predate it.
    crc64nvme: str | None = None

    @property
    def member_name(self) -> str:
        """The file's name inside a pack: its type folder, then its relative path."""
        return f"{self.type}/{self.path}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "piece": self.piece,
        }
        if self.reuse is not None:
            data["reuse"] = self.reuse.to_dict()
        if self.crc64nvme is not None:
            data["crc64nvme"] = self.crc64nvme
        return data
