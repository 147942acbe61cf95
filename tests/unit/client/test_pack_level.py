"""Packs of files that do not shrink are stored, not deflated: the choice, and that it is used."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile

from client_support import write

import artifact_backup.upload.pack_task as pack_task_module
from artifact_backup import UploadConfig, collect_files
from artifact_backup.pack_level import SAMPLE_PER_FILE, pack_level
from artifact_backup.transfer import KB
from artifact_backup.upload import BackupRequest


def noise(seed: str, size: int) -> bytes:
    """Bytes deflate cannot shrink, as compressed GIS data is."""
    return hashlib.shake_256(seed.encode()).digest(size)


def text(size: int) -> bytes:
    return (b"2025-10-30 14:30:00 INFO frame 000123 stitched ok\n" * (size // 50 + 1))[:size]


def files_of(root, include):
    return collect_files(root, include=include).files


def test_files_that_do_not_shrink_are_stored(tmp_path):
    for i in range(20):
        write(tmp_path / "p" / "gis_data" / "city.gdb" / f"a{i:08x}.gdbtable", noise(str(i), 3000 + i))
    assert pack_level(files_of(tmp_path / "p", ["gis_data"]), 1) == 0


def test_files_that_shrink_keep_the_level(tmp_path):
    for i in range(20):
        write(tmp_path / "p" / "logs" / f"run{i}.log", text(5000 + i))
    files = files_of(tmp_path / "p", ["logs"])
    assert pack_level(files, 1) == 1
    assert pack_level(files, 6) == 6
    assert pack_level(files, 0) == 0


def test_the_sample_spreads_over_the_pack(tmp_path):
    """Mostly text after a few incompressible files: the sample must not stop at the first ones."""
    root = tmp_path / "p"
    for i in range(3):
        write(root / "gis_data" / f"a{i}.gpkg", noise(str(i), SAMPLE_PER_FILE))
    for i in range(60):
        write(root / "gis_data" / f"b{i:02d}.geojson", text(SAMPLE_PER_FILE))
    assert pack_level(files_of(root, ["gis_data"]), 1) == 1


def test_a_file_gone_before_it_is_sampled_is_left_to_packing(tmp_path):
    write(tmp_path / "p" / "logs" / "run.log", text(4000))
    files = files_of(tmp_path / "p", ["logs"])
    (tmp_path / "p" / "logs" / "run.log").unlink()
    assert pack_level(files, 1) == 1  # nothing sampled: the level asked for; packing reports the file


def test_the_upload_stores_a_pack_of_gis_data_and_deflates_one_of_logs(tmp_path, s3, make_uploader,
                                                                         monkeypatch):
    root = tmp_path / "p"
    for i in range(10):
        write(root / "gis_data" / "city.gdb" / f"t{i}.gdbtable", noise(str(i), 4000))
        write(root / "logs" / f"run{i}.log", text(4000))
    levels: dict[str, int] = {}
    real = pack_task_module.write_pack

    def spy(members, out, **kwargs):
        types = {f.type for f in members}
        levels[",".join(sorted(types))] = kwargs["compress_level"]
        return real(members, out, **kwargs)

    monkeypatch.setattr(pack_task_module, "write_pack", spy)
    # Small packs, so the two types travel in packs of their own.
    config = UploadConfig(pack_threshold=8 * KB, pack_max_bytes=40 * KB)
    request = BackupRequest(folder=root, project_key="RMI25320", include=["gis_data", "logs"])
    result = make_uploader(config=config).backup(request, wait=False)
    assert result.status == "committed"
    assert levels == {"gis_data": 0, "logs": 1}


def test_a_stored_pack_is_an_ordinary_tar_gz(tmp_path):
    from artifact_backup import write_pack

    for i in range(5):
        write(tmp_path / "p" / "gis_data" / f"t{i}.gpkg", noise(str(i), 3000))
    files = files_of(tmp_path / "p", ["gis_data"])
    out = io.BytesIO()
    write_pack(files, out, compress_level=pack_level(files, 1))
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(out.getvalue())), mode="r:") as tar:
        assert [tar.extractfile(m).read() for m in tar.getmembers()] == [f.source.read_bytes() for f in files]
