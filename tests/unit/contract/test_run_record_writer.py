"""The run record written file by file: its bytes must be ``RunRecord.to_json``'s, exactly."""

from __future__ import annotations

import hashlib
import io

import pytest

from artifact_contract import (
    FileEntry,
    Manifest,
    Piece,
    Reuse,
    RunRecord,
    crc64nvme_b64,
    pack_piece_id,
    run_record_head,
    write_run_record,
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


PROJECT = "RMI25320"
TS = "20251030_1430"
PACK = pack_piece_id(sha(b"pack"))


def manifest(files: list[FileEntry], *, timestamp: str | None = TS, project: str = PROJECT,
             uploader: dict[str, str] | None = None, config_sha256: str | None = None) -> Manifest:
    return Manifest(
        run_id="0" * 32,
        project_key=project,
        timestamp=timestamp,
        archive_bucket="archive",
        created_at="2025-10-30T14:30:00+00:00",
        files=tuple(files),
        pieces=(Piece(PACK, "pack", 1234, sha(b"pack")),),
        uploader=uploader or {},
        config_sha256=config_sha256,
    )


def entry(type_: str, path: str, size: int = 10, reuse: bool = False, crc: bool = False) -> FileEntry:
    digest = sha(f"{type_}/{path}".encode())
    crc64nvme = crc64nvme_b64(f"{type_}/{path}".encode()) if crc else None
    if reuse:
        return FileEntry(type_, path, size, digest, None, Reuse(digest), crc64nvme)
    return FileEntry(type_, path, size, digest, PACK, None, crc64nvme)


CASES = {
    "one file": manifest([entry("logs", "run.log")]),
    "untimestamped": manifest([entry("logs", "b.log"), entry("config", "config.yaml")], timestamp=None),
    "unsorted, several types": manifest([
        entry("report", "z/index.html", 0),
        entry("logs", "b.log", 7),
        entry("logs", "a.log", 2**40),
        entry("config", "config.yaml"),
        entry("logs", "a/b.log"),
        entry("logs", "a.b.log"),
    ]),
    "text to escape": manifest(
        [entry("logs", 'straße "quoted" \u00e9\u4e2d\U0001f600.log'), entry("logs", "tab\u2028sep.log")],
        uploader={"user": 'O\'Brien "the" \u00fcser', "host": "h\\ost", "z": ""},
        config_sha256=sha(b"config"),
    ),
    "non-ascii project": manifest([entry("logs", "x.log")], project="Projekt\u00c4"),
    "reused files": manifest([entry("gis_data", "ortho.gpkg", 5 * 2**30, reuse=True),
                              entry("logs", "run.log")]),
    "with checksums": manifest([entry("gis_data", "ortho.gpkg", 5 * 2**30, reuse=True, crc=True),
                                entry("logs", "run.log", crc=True), entry("logs", "old.log")]),
}


@pytest.mark.parametrize("name", CASES)
def test_written_record_is_the_contracts_bytes(name: str) -> None:
    m = CASES[name]
    out = io.BytesIO()
    write_run_record(m, out)
    assert out.getvalue() == RunRecord.for_manifest(m).to_json()


@pytest.mark.parametrize("name", CASES)
def test_head_has_the_records_summary(name: str) -> None:
    m = CASES[name]
    record = RunRecord.for_manifest(m)
    head = run_record_head(m)
    assert tuple(head["prefixes"]) == record.prefixes
    assert head["file_count"] == len(record.files)
    assert head["bytes"] == record.bytes
    assert "files" not in head


def test_many_files_in_manifest_order_or_not() -> None:
    files = [entry("logs", f"d{i % 7}/f{i:05d}.log", i) for i in range(2000)]
    for ordered in (files, sorted(files, key=lambda f: f.path), list(reversed(files))):
        m = manifest(ordered)
        out = io.BytesIO()
        write_run_record(m, out)
        assert out.getvalue() == RunRecord.for_manifest(m).to_json()


def test_versions_and_etags_seen_are_written_and_read_back() -> None:
    m = CASES["with checksums"]
    etags = {"RMI25320/logs/20251030_1430/run.log": '"0123abcd"'}
    out = io.BytesIO()
    write_run_record(m, out, lambda e, key: None, lambda e, key: etags.get(key))
    record = RunRecord.from_json(out.getvalue())
    assert {f.key: f.etag for f in record.files} == {
        "RMI25320/gis_data/20251030_1430/ortho.gpkg": None,
        "RMI25320/logs/20251030_1430/old.log": None,
        "RMI25320/logs/20251030_1430/run.log": '"0123abcd"',
    }
    # the bytes are the contract's own serialisation of that record
    assert out.getvalue() == record.to_json()
