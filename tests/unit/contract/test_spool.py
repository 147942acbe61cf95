"""The on-disk spool of a run's files: the duplicate check, the orders a run is read in, and a
piece's files read as they are used."""

from __future__ import annotations

import hashlib
import threading

import pytest

from artifact_contract import FileEntry, FileSpool, Reuse, archive_key, member_finder


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def entry(type_: str, path: str, piece: str | None = "packs/p.tar.gz", size: int = 10) -> FileEntry:
    digest = sha(f"{type_}/{path}")
    if piece is None:
        return FileEntry(type_, path, size, digest, None, Reuse(digest))
    return FileEntry(type_, path, size, digest, piece)


def spool_of(entries: list[FileEntry], project: str = "P", ts: str | None = "20251030_1430") -> FileSpool:
    spool = FileSpool()
    for e in entries:
        assert spool.add(e, archive_key(project, e.type, ts, e.path))
    spool.seal()
    return spool


FILES = [
    entry("report", "z/index.html", "packs/b.tar.gz"),
    entry("logs", "b.log"),
    entry("logs", "a.log", "packs/b.tar.gz"),
    entry("gis_data", "ortho.gpkg", None, 5 * 2**30),
    entry("config", "config.yaml"),
    entry("logs", "a/b.log"),
    entry("logs", "a.b.log"),
    entry("logs", "stra\u00dfe \u4e2d\U0001f600.log"),
]


def test_reads_back_what_was_added_in_every_order() -> None:
    with spool_of(FILES) as spool:
        assert list(spool) == FILES
        assert len(spool) == len(FILES)
        assert spool[0] == FILES[0]
        assert spool[-1] == FILES[-1]
        assert list(spool.in_name_order()) == sorted(FILES, key=lambda f: (f.type, f.path))
        keyed = [(f, archive_key("P", f.type, "20251030_1430", f.path)) for f in FILES]
        assert list(spool.in_key_order()) == sorted(keyed, key=lambda p: p[1])
        assert list(spool.reused()) == [FILES[3]]
        assert spool.reused_count == 1
        assert spool.reused_bytes == 5 * 2**30
        assert spool.total_bytes == sum(f.size for f in FILES)
        assert spool.types == ("config", "gis_data", "logs", "report")


def test_a_file_listed_twice_is_not_added() -> None:
    spool = FileSpool()
    assert spool.add(entry("logs", "a.log"), "k1")
    assert not spool.add(entry("logs", "a.log", "packs/other.tar.gz", 99), "k2")
    assert ("logs", "a.log") in spool
    assert ("logs", "b.log") not in spool
    assert len(spool) == 1
    assert spool.total_bytes == 10
    spool.close()


def test_a_pieces_files_are_a_sequence_read_on_demand() -> None:
    with spool_of(FILES) as spool:
        piece = spool.of_piece("packs/p.tar.gz")
        expected = [f for f in FILES if f.piece == "packs/p.tar.gz"]
        assert len(piece) == len(expected)
        assert list(piece) == expected == piece
        assert [piece[i] for i in range(len(piece))] == expected
        assert piece[-1] == expected[-1]
        with pytest.raises(IndexError):
            piece[len(piece)]
        assert piece.find("logs/a/b.log") == (expected.index(FILES[5]), FILES[5])
        assert piece.find("logs/a.log") is None  # carried by the other pack
        assert piece.find("nothing") is None
        assert len(spool.of_piece("packs/unknown.tar.gz")) == 0
        assert list(spool.carried_by(["packs/b.tar.gz"], reused=True)) == [FILES[0], FILES[2], FILES[3]]
        assert list(spool.carried_by([], reused=False)) == []


def test_member_finder_works_for_a_list_and_a_spool_alike() -> None:
    expected = [f for f in FILES if f.piece == "packs/p.tar.gz"]
    with spool_of(FILES) as spool:
        for entries in (expected, spool.of_piece("packs/p.tar.gz")):
            find = member_finder(entries)
            assert find("config/config.yaml") == (expected.index(FILES[4]), FILES[4])
            assert find("config/none.yaml") is None


def test_threads_read_one_spool_at_once() -> None:
    files = [entry("logs", f"r{i % 5}/f{i:05d}.log", f"packs/{i % 5}.tar.gz") for i in range(3000)]
    with spool_of(files) as spool:
        seen: dict[int, list[FileEntry]] = {}

        def read(n: int) -> None:
            seen[n] = list(spool.of_piece(f"packs/{n}.tar.gz"))

        threads = [threading.Thread(target=read, args=(n,)) for n in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for n in range(5):
            assert seen[n] == [f for f in files if f.piece == f"packs/{n}.tar.gz"]


def test_a_closed_spool_reads_nothing() -> None:
    spool = spool_of(FILES)
    spool.close()
    spool.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        list(spool)
