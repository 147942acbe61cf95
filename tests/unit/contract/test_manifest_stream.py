"""The manifest read as a stream: whatever the key order, layout or read sizes, it means what
``json.loads`` makes of it, refuses what the contract refuses, and holds no file entry in memory."""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import tracemalloc
from typing import Any

import pytest

from artifact_contract import (
    FileEntry,
    Manifest,
    ManifestInvalidError,
    Piece,
    RunRecord,
    build_manifest,
    content_sha256,
    dumps_record,
    manifest_checks,
    manifest_json,
    pack_piece_id,
    write_run_record,
)

PACK_SHA = "c" * 64
PACK = pack_piece_id(PACK_SHA)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def good_dict(n: int = 3) -> dict[str, Any]:
    files = [FileEntry("logs", f"r/f{i:06d}.log", i, sha(str(i)), PACK) for i in range(n)]
    built = build_manifest(
        run_id="0123456789abcdef0123456789abcdef", project_key="RMI25320", timestamp="20251030_1430",
        archive_bucket="rmi-360-raw", created_at="2025-10-30T14:30:00+00:00",
        pieces=[Piece(PACK, "pack", 100, PACK_SHA)], files=files, uploader={"host": "h"},
    )
    with built:
        return built.to_dict()


class Trickle(io.RawIOBase):
    """A stream that cannot seek and answers every read with a few bytes."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._pos, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self._step if size is None or size < 0 else min(size, self._step)
        chunk = self._data[self._pos:self._pos + size]
        self._pos += len(chunk)
        return chunk


def read(raw: bytes) -> Manifest | str:
    try:
        return Manifest.read(io.BytesIO(raw))
    except ManifestInvalidError as exc:
        return str(exc)


def test_keys_in_any_order_and_any_layout_mean_the_same() -> None:
    data = good_dict()
    reference = Manifest.from_dict(data)
    reordered = {"files": data["files"], **{k: v for k, v in reversed(data.items()) if k != "files"}}
    for raw in (
        json.dumps(reordered).encode(),
        json.dumps(data, indent=3).encode(),
        json.dumps(reordered, indent="\t", ensure_ascii=True).encode(),
        b"\n\r\t " + json.dumps(data, separators=(",", ":")).encode() + b" \n",
    ):
        with Manifest.read(io.BytesIO(raw)) as m:
            assert m == reference
            assert m.to_json() == reference.to_json()


@pytest.mark.parametrize("step", [1, 3, 7, 64])
def test_any_read_size_and_a_stream_that_cannot_seek(step: int) -> None:
    data = good_dict(20)
    data["files"][5]["size"] = 123456789  # a number cut by every read boundary at some step
    raw = json.dumps(data, indent=1).encode()
    with Manifest.read(Trickle(raw, step)) as m:
        assert m == Manifest.from_dict(data)


def _with(data: dict[str, Any], **changes: Any) -> bytes:
    return json.dumps({**data, **changes}).encode()


def _hostile() -> dict[str, tuple[bytes, str]]:
    data = good_dict()
    text = json.dumps(data)
    files = data["files"]
    first = files[0]
    return {
        "top-level key twice": (text.replace('"schema":', '"schema": "x", "schema":', 1).encode(),
                                "'schema' twice"),
        "files twice": (text[:-1].encode() + b', "files": []}', "'files' twice"),
        "file key twice": (text.replace('"path":', '"path": "x", "path":', 1).encode(), "'path' twice"),
        "file listed twice": (_with(data, files=[first, first]), "listed twice"),
        "listed twice, then broken": (_with(data, files=[first, {**first, "size": -1}]), "listed twice"),
        "unknown piece": (_with(data, files=[{**first, "piece": "packs/" + "d" * 64 + ".tar.gz"}]),
                          "not listed"),
        "extra data": (text.encode() + b" {}", "Extra data"),
        "missing comma": (text.replace(', "run_id"', ' "run_id"', 1).encode(), "delimiter"),
        "trailing comma in files": (text.replace("}]", "},]", 1).encode(), "Expecting"),
        "truncated": (text.encode()[:-5], "not valid JSON"),
        "lone surrogate in a path": (text.replace('"r/f000000', '"r/\\udc80f000000', 1).encode(),
                                     "contains control"),
        "invalid UTF-8 far in": (
            text.replace("f000002", "f00000\udcff", 1).encode("utf-8", "surrogateescape"), "not valid JSON"),
        "deep nesting in a file": (_with(data, files=[json.loads("[" * 50 + "]" * 50)]), "not an object"),
        "deep nesting beyond the parser": (text.replace('"uploader": {', '"deep": ' + "[" * 100_000
                                                        + "]" * 100_000 + ', "uploader": {', 1).encode(),
                                           "nested too deeply"),
        "files not a list": (_with(data, files={"a": 1}), "'files' has the wrong type"),
        "no files key": (json.dumps({k: v for k, v in data.items() if k != "files"}).encode(), "no 'files'"),
        "pieces after files, not a list": (json.dumps({"files": files, **{**data, "pieces": 3}}).encode(),
                                           "'pieces' has the wrong type"),
        "a string": (b'"manifest"', "not a JSON object"),
    }


@pytest.mark.parametrize("case", list(_hostile()))
def test_hostile_manifests_are_refused(case: str) -> None:
    raw, words = _hostile()[case]
    outcome = read(raw)
    assert isinstance(outcome, str), f"{case} was accepted"
    assert words in outcome


def test_too_many_files_are_counted_before_any_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    six, five = json.dumps(good_dict(6)).encode(), json.dumps(good_dict(5)).encode()
    monkeypatch.setattr(manifest_checks, "MAX_FILES", 5)
    assert "more than 5" in read(six)
    assert isinstance(read(five), Manifest)


def test_an_entry_too_long_is_not_read_to_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifest_json, "MAX_ENTRY_CHARS", 1000)
    data = good_dict()
    data["files"][1]["path"] = "x" * 200_000  # beyond the first read, so read on for
    assert "longer than 1000 characters" in read(json.dumps(data).encode())


def _write_many(out: Any, n: int) -> dict[str, Any]:
    """A manifest of ``n`` files written straight to ``out``, as a client would."""
    head = good_dict(1)
    del head["files"]
    out.write(json.dumps(head)[:-1].encode() + b', "files": [')
    for i in range(n):
        if i:
            out.write(b",")
        name = f"reel_{i // 500:04d}/frame_batch_{i:06d}.log"
        out.write(json.dumps({"type": "logs", "path": name, "size": 8000, "sha256": sha(name),
                              "piece": PACK}).encode())
    out.write(b"]}")
    return head


def test_fifty_thousand_entries_are_read_without_holding_them() -> None:
    n = 50_000
    with tempfile.TemporaryFile() as raw:
        _write_many(raw, n)
        size = raw.tell()
        raw.seek(0)
        tracemalloc.start()
        try:
            m = Manifest.read(raw)
            _, parsed_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            digest = content_sha256(m.files)
            with tempfile.TemporaryFile() as record:
                write_run_record(m, record)
                written = record.tell()
            count = sum(1 for _ in m.files_of(PACK))
            _, used_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        with m:
            assert m.file_count == n == count
            assert m.total_bytes == 8000 * n
            assert written > size  # the record lists every file
    # What grows with the files would be tens of megabytes here (the manifest is about 9 MB).
    assert parsed_peak < 4 * 2**20, f"reading held {parsed_peak} bytes"
    assert used_peak < 4 * 2**20, f"reading the files back held {used_peak} bytes"
    assert len(digest) == 64


def test_the_streamed_record_and_digest_are_the_in_memory_ones() -> None:
    files = [FileEntry(t, p, i, sha(t + p), PACK) for i, (t, p) in enumerate([
        ("report", "z/index.html"), ("logs", "b.log"), ("logs", "a.log"), ("config", "config.yaml"),
        ("logs", "a/b.log"), ("logs", "a.b.log"), ("logs", "stra\u00dfe \u4e2d\U0001f600.log")])]
    draft = Manifest(run_id="0" * 32, project_key="RMI25320", timestamp=None, archive_bucket="a",
                     created_at="2025-10-30T14:30:00+00:00", files=tuple(files),
                     pieces=(Piece(PACK, "pack", 1, PACK_SHA),))
    with Manifest.read(io.BytesIO(draft.to_json())) as spooled:
        assert spooled.spooled
        assert not draft.spooled
        out = io.BytesIO()
        write_run_record(spooled, out)
        # The record as it always was: every file, its key, sorted by key, in one document.
        record = RunRecord.for_manifest(draft).to_dict()
        expected = sorted(record["files"], key=lambda f: f["key"])
        assert [f["key"] for f in record["files"]] == [f["key"] for f in expected]
        assert out.getvalue() == dumps_record(record)
        plain = sorted((f.type, f.path, f.size, f.sha256) for f in files)
        digest = hashlib.sha256()
        for item in plain:
            digest.update(json.dumps(list(item), ensure_ascii=False).encode() + b"\n")
        assert content_sha256(spooled.files) == content_sha256(files) == digest.hexdigest()
