"""Manifests a hostile or broken client could write: each must end as ManifestInvalidError, never as
another exception (which the filer would take for a transient failure and retry without a receipt)."""

from __future__ import annotations

import json

import pytest

from artifact_contract import FileEntry, Manifest, ManifestInvalidError, Piece, build_manifest, pack_piece_id

RUN = "0123456789abcdef0123456789abcdef"
SHA_A = "a" * 64
SHA_P = "c" * 64


def good(**changes: object) -> dict:
    fields: dict = {
        "run_id": RUN,
        "project_key": "RMI25320",
        "timestamp": "20251030_1430",
        "archive_bucket": "rmi-360-raw",
        "created_at": "2025-10-30T14:30:00Z",
        "pieces": [Piece(pack_piece_id(SHA_P), "pack", 10, SHA_P)],
        "files": [FileEntry("logs", "process_log.txt", 5, SHA_A, pack_piece_id(SHA_P))],
        "uploader": {"client": "artifact-backup/0.1.0", "host": "ws-07"},
    }
    fields.update(changes)
    return build_manifest(**fields).to_dict()


def test_deeply_nested_json_is_invalid_not_a_recursion_error():
    with pytest.raises(ManifestInvalidError, match="nested too deeply"):
        Manifest.from_json(b"[" * 100_000 + b"]" * 100_000)


def test_duplicate_keys_are_refused_at_any_depth():
    raw = json.dumps(good())
    with pytest.raises(ManifestInvalidError, match="'project_key' twice"):
        Manifest.from_json(raw[:-1] + ', "project_key": "OTHER"}')
    inner = raw.replace('"size": 5', '"size": 5, "size": 6', 1)
    assert inner != raw
    with pytest.raises(ManifestInvalidError, match="'size' twice"):
        Manifest.from_json(inner)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"created_at": "\ud800"}, "created_at"),
        ({"created_at": "yesterday"}, "ISO 8601"),
        ({"created_at": "2025-10-30T14:30:00Z" + " " * 300}, "longer than"),
        ({"uploader": {"host": "ws\udcff"}}, "unencodable"),
        ({"uploader": {"host\x1b[2J": "ws"}}, "control"),
        ({"uploader": {f"k{i}": "v" for i in range(33)}}, "more than 32"),
    ],
)
def test_free_text_that_would_break_the_records_is_refused(change, message):
    data = good()
    data.update(change)
    with pytest.raises(ManifestInvalidError, match=message):
        Manifest.from_json(json.dumps(data))


def test_free_text_survives_the_round_trip_into_utf8():
    manifest = Manifest.from_json(json.dumps(good(uploader={"host": "poste-\u00e9t\u00e9"})))
    assert manifest.to_json().decode("utf-8")


def test_archive_key_longer_than_s3_allows_is_refused():
    data = good()
    data["project_key"] = "\u00e9" * 128  # a valid project key of 256 bytes
    data["files"][0]["path"] = "a" * 800 + ".log"  # a valid path on its own
    with pytest.raises(ManifestInvalidError, match="exceed 1024 bytes"):
        Manifest.from_json(json.dumps(data))
