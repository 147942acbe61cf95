"""Small files, packed (docs/protocol.md, step 3): each pack is written to a temporary file, its
members hashed from the very bytes packed, and sent as one piece named by its own SHA-256."""

from __future__ import annotations

import tempfile
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from artifact_contract import FileEntry, Piece, pack_piece_id

from ..collect import LocalFile
from ..pack import PackResult, write_pack
from ..pack_level import pack_level
from ..part_crc import PartCrcs
from ..paths import discard
from .sender import PieceSender


def send_packs(sender: PieceSender, packs: Sequence[Sequence[LocalFile]]) -> None:
    """Build and send the packs in turn; at most ``max_pending_packs`` wait on disk for their upload."""
    pending: deque[Any] = deque()
    for planned in packs:
        while len(pending) >= sender.config.max_pending_packs:
            pending.popleft().result()
        # A planned pack reads its files from the run's spool each time: while it is written, and
        # again to list them with their hashes.
        parts = sender.checksums.for_stream()
        path, packed = _write_pack_file(sender, planned, parts)
        piece = Piece(pack_piece_id(packed.sha256), "pack", packed.size, packed.sha256)
        sender.outcome.pieces[piece.id] = piece
        content = 0
        for f, sha, crc in zip(planned, packed.file_sha256, packed.file_crc64nvme, strict=True):
            sender.outcome.add_file(FileEntry(f.type, f.path, f.size, sha, piece.id, None, crc))
            content += f.size
        if sender.already_there(piece, content):
            discard(path, "pack file")
            continue
        pending.append(sender.upload(str(path), piece.id, piece, packed.size, cleanup=path, content=content,
                                     parts=parts))


def _write_pack_file(
    sender: PieceSender, members: Sequence[LocalFile], parts: PartCrcs | None
) -> tuple[Path, PackResult]:
    cfg = sender.config
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives until uploaded
        prefix="artifact-pack-", suffix=".tar.gz", dir=cfg.temp_dir, delete=False
    )
    path = Path(handle.name)
    sender.temp_files.append(path)
    try:
        packed = write_pack(
            members,
            handle,
            compress_level=pack_level(members, cfg.compress_level),
            chunksize=cfg.hash_chunksize,
            on_file=sender.file_hashed,
            parts=parts,
        )
    finally:
        handle.close()
    return path, packed
