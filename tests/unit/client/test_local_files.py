"""The collected files spooled to disk: read back in (type, path) order, replaced by name, and
planned into packs that are ranges of names read again when written."""

from __future__ import annotations

import random

from artifact_backup import UploadConfig, plan_pieces
from artifact_backup.collect import LocalFile
from artifact_backup.local_files import LocalFiles
from artifact_backup.transfer import MB


def local(type_: str, path: str, size: int = 10) -> LocalFile:
    return LocalFile(type_, path, f"/nowhere/{type_}/{path}", size, 1)


def test_files_come_back_sorted_with_their_counts() -> None:
    files = [local(t, f"d{i % 7}/f{i:05d}.log", i) for i in range(3000) for t in ("logs", "config")]
    random.Random(1).shuffle(files)
    with LocalFiles.of(files) as spool:
        assert list(spool) == sorted(files, key=lambda f: (f.type, f.path))
        assert len(spool) == 6000
        assert spool.count_of("logs") == 3000
        assert spool.bytes_of("config") == sum(range(3000))
        assert spool.total_bytes == 2 * sum(range(3000))
        assert spool[0] == min(files, key=lambda f: (f.type, f.path))


def test_a_file_of_the_same_name_replaces_the_first() -> None:
    with LocalFiles() as spool:
        assert spool.put(local("config", "config.yaml", 5)) is None
        replaced = spool.put(LocalFile("config", "config.yaml", "/elsewhere/config.yaml", 7, 2))
        assert replaced == local("config", "config.yaml", 5)
        assert len(spool) == 1
        assert spool.total_bytes == 7
        assert spool.get("config", "config.yaml").location == "/elsewhere/config.yaml"


def test_a_folder_name_that_is_not_utf8_survives() -> None:
    odd = LocalFile("logs", "a.log", "/data/caf\udce9/a.log", 1, 1)  # os.fsdecode of b"caf\xe9"
    with LocalFiles.of([odd]) as spool:
        assert list(spool) == [odd]


def test_planned_packs_read_back_the_files_of_an_in_memory_plan() -> None:
    config = UploadConfig(pack_threshold=8 * MB, pack_max_bytes=20 * MB)
    sizes = [random.Random(i).choice([1, 500_000, 3 * MB, 9 * MB]) for i in range(400)]
    files = [local("logs", f"r{i % 3}/f{i:04d}.log", size) for i, size in enumerate(sizes)]
    plan = plan_pieces(files, config)
    # The plan as it was made before files were spooled: sorted, large ones alone, packs filled.
    ordered = sorted(files, key=lambda f: (f.type, f.path))
    blobs = [f for f in ordered if f.size >= config.pack_threshold]
    packs: list[list[LocalFile]] = [[]]
    for f in ordered:
        if f.size >= config.pack_threshold:
            continue
        if packs[-1] and sum(g.size for g in packs[-1]) + f.size > config.pack_max_bytes:
            packs.append([])
        packs[-1].append(f)
    assert list(plan.blobs) == blobs
    assert [list(p) for p in plan.packs] == packs
    assert [len(p) for p in plan.packs] == [len(p) for p in packs]
    assert plan.total_bytes == sum(sizes)
    assert plan.total_files == 400
