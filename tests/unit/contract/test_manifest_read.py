"""``Manifest.read`` (a stream, less held at once) accepts and refuses exactly what ``from_json`` does."""

from __future__ import annotations

import io
import json

import pytest

from artifact_contract import (
    MAX_MANIFEST_BYTES,
    FileEntry,
    Manifest,
    ManifestInvalidError,
    Piece,
    build_manifest,
    pack_piece_id,
)

PACK = "c" * 64


def _good() -> bytes:
    files = [("logs", "a.log", "a"), ("logs", "b/c.log", "b"), ("config", "config.yaml", "d")]
    return build_manifest(
        run_id="0123456789abcdef0123456789abcdef",
        project_key="RMI25320",
        timestamp="20251030_1430",
        archive_bucket="rmi-360-raw",
        created_at="2025-10-30T14:30:00+00:00",
        pieces=[Piece(pack_piece_id(PACK), "pack", 100, PACK)],
        files=[FileEntry(t, p, 10, c * 64, pack_piece_id(PACK)) for t, p, c in files],
    ).to_json()


def _outcome(raw: bytes) -> Manifest | str:
    try:
        return Manifest.from_json(raw)
    except ManifestInvalidError as exc:
        return str(exc)


def _ours(raw: bytes) -> Manifest | str:
    try:
        return Manifest.read(io.BytesIO(raw))
    except ManifestInvalidError as exc:
        return str(exc)


def test_a_good_manifest_reads_the_same() -> None:
    raw = _good()
    ours = _ours(raw)
    assert isinstance(ours, Manifest)
    assert ours == Manifest.from_json(raw)
    assert ours.to_json() == raw


def test_repeated_values_are_one_string() -> None:
    ours = Manifest.read(io.BytesIO(_good()))
    logs = [f for f in ours.files if f.type == "logs"]
    assert logs[0].type is logs[1].type
    assert logs[0].piece is logs[1].piece


def _bad() -> dict[str, bytes]:
    good = _good()
    text = good.decode()
    data = json.loads(text)
    return {
        "not json": b"{not json",
        "not utf-8": b'{"schema": "\xff\xfe"}',
        "utf-16": json.dumps(data).encode("utf-16"),
        "bom": b"\xef\xbb\xbf" + good,
        "duplicate key": text.replace('"schema":', '"schema":"x","schema":', 1).encode(),
        "duplicate key in a file": text.replace('"path":', '"path":"x","path":', 1).encode(),
        "deeply nested": b"[" * 100_000 + b"]" * 100_000,
        "too large": b" " * (MAX_MANIFEST_BYTES + 1),
        "lone surrogate": text.replace('"created_at":"', '"created_at":"\\ud800', 1).encode(),
        "no files": json.dumps({**data, "files": []}).encode(),
        "a list": b"[]",
        "empty": b"",
    }


@pytest.mark.parametrize("case", list(_bad()))
def test_everything_else_is_refused_with_the_contracts_words(case: str) -> None:
    raw = _bad()[case]
    assert _ours(raw) == _outcome(raw)
