"""Packs are deterministic, and the piece plan follows the thresholds."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile

from client_support import write

from artifact_backup import UploadConfig, collect_files, plan_pieces, write_pack
from artifact_backup.collect import LocalFile
from artifact_backup.transfer import MB
from artifact_contract import crc64nvme_b64


def pack_bytes(files) -> tuple[bytes, object]:
    out = io.BytesIO()
    result = write_pack(files, out)
    return out.getvalue(), result


def test_same_files_give_the_same_bytes(project, tmp_path):
    first, r1 = pack_bytes(collect_files(project, include=["logs", "report"]).files)
    for path in project.rglob("*"):
        if path.is_file():
            os.utime(path, (1_000_000, 1_000_000))
            path.chmod(0o600)
    # and given in another order
    again, r2 = pack_bytes(list(reversed(collect_files(project, include=["logs", "report"]).files)))
    assert first == again
    assert r1.sha256 == r2.sha256 == hashlib.sha256(first).hexdigest()
    assert r1.size == len(first)


def test_pack_layout(project):
    files = collect_files(project, include=["logs"]).files
    data, result = pack_bytes(files)
    assert data[:2] == b"\x1f\x8b"
    assert data[4:8] == b"\0\0\0\0"
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data)), mode="r:") as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == sorted(f.member_name for f in files)
        for m in members:
            assert (m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) == (0, 0, 0, "", "", 0o644)
            assert m.isreg()
            content = tar.extractfile(m).read()
            f = next(f for f in files if f.member_name == m.name)
            assert content == f.source.read_bytes()
    for f, sha, crc in zip(files, result.file_sha256, result.file_crc64nvme, strict=True):
        assert sha == hashlib.sha256(f.source.read_bytes()).hexdigest()
        assert crc == crc64nvme_b64(f.source.read_bytes())


def test_non_ascii_names_pack_deterministically(tmp_path):
    write(tmp_path / "p" / "logs" / "journal_été_日本.log", "x")
    a, _ = pack_bytes(collect_files(tmp_path / "p", include=["logs"]).files)
    b, _ = pack_bytes(collect_files(tmp_path / "p", include=["logs"]).files)
    assert a == b
    with tarfile.open(fileobj=io.BytesIO(a), mode="r:gz") as tar:
        assert tar.getnames() == ["logs/journal_été_日本.log"]


def fake(name: str, size: int) -> LocalFile:
    return LocalFile("logs", name, f"/nowhere/{name}", size, 0)


def test_plan_thresholds():
    config = UploadConfig(pack_threshold=8 * MB, pack_max_bytes=20 * MB)
    files = [
        fake("a.log", 8 * MB - 1),
        fake("b.log", 8 * MB),  # at the threshold: alone
        fake("c.log", 7 * MB),
        fake("d.log", 6 * MB),  # 8-1 + 7 + 6 > 20: a second pack
        fake("e.log", 0),
    ]
    plan = plan_pieces(files, config)
    assert [f.path for f in plan.blobs] == ["b.log"]
    assert [[f.path for f in p] for p in plan.packs] == [["a.log", "c.log"], ["d.log", "e.log"]]
    assert plan.total_bytes == sum(f.size for f in files)
    assert plan.total_files == 5


def test_two_thousand_small_files_make_one_pack():
    plan = plan_pieces([fake(f"{i:04}.log", 1000) for i in range(2000)], UploadConfig())
    assert len(plan.packs) == 1
    assert not plan.blobs


def tarfile_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info.tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape")


def test_member_headers_are_tarfiles_byte_for_byte():
    """Packs are named by their SHA-256, so the fast header path must write exactly tarfile's bytes,
    on both sides of every limit it takes a shortcut within."""
    from artifact_backup.pack import member_header

    sizes = [0, 1, 511, 512, 8 * MB, 8**11 - 1, 8**11]
    for type_name in ("logs", "report"):
        # Member names of 99, 100 (the ustar name field) and 101 bytes, then a few odd ones.
        edge = ["x" * (n - len(type_name) - 5) + ".log" for n in (99, 100, 101)]
        for path in [*edge, "a.log", "dir/é.log", "sub dir/with space.txt"]:
            for size in sizes:
                f = LocalFile(type_name, path, None, size, 0)  # type: ignore[arg-type]
                assert member_header(f) == tarfile_header(f.member_name, size), (f.member_name, size)
