"""Pack checks on their own, without S3: what may and may not follow a pack's tar."""

from __future__ import annotations

import gzip
import io

import pytest

from artifact_contract import FileEntry, Piece, pack_piece_id
from artifact_filer import PackBombError, PieceCorruptError
from artifact_filer.verify import read_pack
from tests.support.staged import regular, sha, tar_bytes

DATA = b"2025-10-30 14:30:00 INFO frame 00001 ok\n" * 10


def _pack(raw_tar: bytes, trailer: bytes = b"") -> tuple[bytes, Piece, list[FileEntry]]:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw_tar + trailer)
    body = out.getvalue()
    piece = Piece(pack_piece_id(sha(body)), "pack", len(body), sha(body))
    return body, piece, [FileEntry("logs", "a.log", len(DATA), sha(DATA), piece.id)]


def _read(body: bytes, piece: Piece, entries: list[FileEntry], limit: int = 1 << 20) -> list:
    return list(read_pack(io.BytesIO(body), piece, entries, limit=limit, chunk=4096, keep=False))


def test_zero_padding_after_the_end_marker_is_accepted():
    body, piece, entries = _pack(tar_bytes([regular("logs/a.log", DATA)]), bytes(20_000))
    assert [e.path for e, _ in _read(body, piece, entries)] == ["a.log"]


def test_a_second_tar_after_the_end_marker_is_refused():
    smuggled = tar_bytes([regular("logs/../../evil.sh", b"#!/bin/sh\n")])
    body, piece, entries = _pack(tar_bytes([regular("logs/a.log", DATA)]), smuggled)
    with pytest.raises(PieceCorruptError, match="after its tar end marker"):
        _read(body, piece, entries)


def test_zeros_beyond_the_cap_are_still_a_bomb():
    body, piece, entries = _pack(tar_bytes([regular("logs/a.log", DATA)]), bytes(4 << 20))
    with pytest.raises(PackBombError):
        _read(body, piece, entries)


def test_a_refusal_reason_quoting_a_huge_input_is_cut():
    from artifact_filer import ManifestRefusedError

    text = "path '" + "\\" * 5_000_000 + "' contains a backslash"
    error = ManifestRefusedError(text)
    assert len(error.reason) < ManifestRefusedError.MAX_REASON + 100
    assert error.reason.endswith(f"({len(text)} characters, cut)")
