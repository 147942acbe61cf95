"""The untimed warm-up of the server: it sends the scenario's largest files, and no more than asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.warm import largest_files, warm_server
from tests.support.s3 import list_keys, mocked_s3


def _folder(root: Path) -> Path:
    (root / "gis_data" / "a.gdb").mkdir(parents=True)
    sizes = {"gis_data/a.gdb/a1.gdbtable": 9_000_000, "gis_data/big.gpkg": 12_000_000,
             "gis_data/a.gdb/a2.gdbtable": 4_000, "logs/run.log": 300}
    for name, size in sizes.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes([len(name) % 251]) * size)
    return root


def test_largest_files_come_first_and_the_count_is_capped(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    chosen = largest_files(folder, limit=2)
    assert [(size, path.relative_to(folder).as_posix()) for size, path in chosen] == [
        (12_000_000, "gis_data/big.gpkg"), (9_000_000, "gis_data/a.gdb/a1.gdbtable")]


def test_warm_server_uploads_the_largest_files_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _folder(tmp_path / "project")
    with mocked_s3(monkeypatch, "warm") as s3:
        sent = warm_server(s3, "warm", folder, limit=3)
        assert (sent.files, sent.bytes) == (3, 21_004_000)
        assert list_keys(s3, "warm") == ["gis_data/a.gdb/a1.gdbtable", "gis_data/a.gdb/a2.gdbtable",
                                         "gis_data/big.gpkg"]
        # The 12 MB file went in parts, as the measured tools send large files.
        assert s3.head_object(Bucket="warm", Key="gis_data/big.gpkg")["ContentLength"] == 12_000_000
        assert s3.head_object(Bucket="warm", Key="gis_data/big.gpkg")["ETag"].strip('"').endswith("-2")
