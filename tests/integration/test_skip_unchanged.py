"""Skip-unchanged end to end: a GIS data set that has not changed since the project's last run is not
sent again, yet every run in the archive is complete, byte-identical, with its own run record.

Runs are made by the real client against the embedded S3 server, filed by the real filer through the
queue; bytes sent are counted by a progress subscriber, as a user's progress bar would count them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from artifact_backup import NullJournal, Uploader, load_config
from artifact_backup.transfer import MB, BaseSubscriber
from artifact_backup.upload import BackupRequest, UploadResult
from artifact_contract import ReuseIndex, RunRecord, crc64nvme_b64, reuse_index_key, run_record_key

pytestmark = pytest.mark.integration

GIS_BYTES = 6 * MB  # above the 1 MiB pack threshold set below: travels alone


class BytesSent(BaseSubscriber):
    """What went over the wire to staging, in bytes (retries subtract what they resend)."""

    def __init__(self) -> None:
        self.total = 0

    def on_bytes_sent(self, *, amount: int, **kwargs) -> None:
        self.total += amount


def gis_data(seed: bytes, size: int = GIS_BYTES) -> bytes:
    """Deterministic bytes that gzip cannot shrink, so a packed copy could not hide a re-send."""
    block = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(2048))
    return (block * (size // len(block) + 1))[:size]


class Project:
    """A project folder with a large GIS data set and a few small files, and its config.yaml."""

    def __init__(self, root: Path, stack, project_key: str, s3) -> None:
        self.root, self.stack, self.key, self.s3 = root, stack, project_key, s3
        self.bucket = stack.names.archive_bucket
        self.folder = root / project_key
        self.config = root / "config.yaml"
        self.runs: dict[str, dict[str, bytes]] = {}
        transfer = "  transfer:\n    pack_threshold_mb: 1\n"
        self.config.write_text(f'project:\n  slug: "{project_key}"\n{stack.config_block()}{transfer}',
                               encoding="utf-8")
        self.write("gis_data/roads.gpkg", gis_data(b"roads v1"))
        self.write("gis_data/boundary.geojson", b'{"type": "FeatureCollection", "features": []}')
        self.write("logs/process_log.txt", b"run 1\n")

    def write(self, rel: str, data: bytes) -> None:
        path = self.folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def snapshot(self, timestamp: str) -> dict[str, bytes]:
        """The archive keys a run of the folder as it is now must fill, with their bytes."""
        files: dict[str, bytes] = {}
        for path in self.folder.rglob("*"):
            if path.is_file():
                type_name, *rest = path.relative_to(self.folder).parts
                files[f"{self.key}/{type_name}/{timestamp}/{'/'.join(rest)}"] = path.read_bytes()
        return files

    def upload(self, timestamp: str, **kwargs) -> tuple[UploadResult, int]:
        counter = BytesSent()
        uploader = Uploader(load_config(self.config), subscribers=[counter], journal=NullJournal())
        request = BackupRequest(folder=self.folder, project_key=self.key, include=["gis_data", "logs"],
                                timestamp=timestamp)
        self.runs[timestamp] = self.snapshot(timestamp)
        result = uploader.backup(request, wait_timeout=120, **kwargs)
        assert result.status == "filed", result
        assert result.bytes_sent == counter.total
        return result, counter.total

    def assert_complete(self, timestamp: str, result: UploadResult) -> None:
        """The run's folder holds exactly the files it was made of, byte for byte, stamped with its
        own run id, and its own run record lists them."""
        expected = self.runs[timestamp]
        keys: set[str] = set()
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                        Prefix=f"{self.key}/"):
            keys |= {o["Key"] for o in page.get("Contents", []) if f"/{timestamp}/" in o["Key"]}
        assert {k for k in keys if "/_runs/" not in k} == set(expected)
        for key, data in expected.items():
            stored = self.s3.get_object(Bucket=self.bucket, Key=key)
            assert stored["Body"].read() == data, key
            assert stored["Metadata"]["run-id"] == result.run_id
            assert stored["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()
        record_key = run_record_key(self.key, timestamp, result.run_id)
        record = RunRecord.from_json(self.s3.get_object(Bucket=self.bucket, Key=record_key)["Body"].read())
        assert record.run_id == result.run_id
        assert {f.key for f in record.files} == set(expected)
        # Every file's record holds the CRC64NVME of its bytes, a reused one's too.
        assert {f.key: f.crc64nvme for f in record.files} == {
            key: crc64nvme_b64(data) for key, data in expected.items()}
        # ... and the ETag of the object the filer wrote, packed, sent alone or reused alike.
        assert {f.key: f.etag for f in record.files} == {
            key: self.s3.head_object(Bucket=self.bucket, Key=key)["ETag"] for key in expected}

    def index(self) -> ReuseIndex:
        raw = self.s3.get_object(Bucket=self.stack.names.staging_bucket, Key=reuse_index_key(self.key))
        return ReuseIndex.from_json(raw["Body"].read(), self.key)


@pytest.fixture
def project(tmp_path, local_stack, project_key, s3, isolated_cache) -> Project:
    return Project(tmp_path, local_stack, project_key, s3)


def test_unchanged_gis_data_is_not_sent_again_yet_the_run_is_complete(project: Project):
    first, sent_first = project.upload("20251030_0900")
    assert sent_first >= GIS_BYTES
    assert first.files_reused == 0
    project.assert_complete("20251030_0900", first)

    project.write("logs/process_log.txt", b"run 2\n")
    second, sent_second = project.upload("20251031_0900")
    assert second.files_reused == 1
    assert second.bytes_reused == GIS_BYTES
    assert sent_second < GIS_BYTES // 100  # a pack of two small files
    assert second.receipt is not None
    assert second.receipt.extra == {"reused_files": 1, "reused_bytes": GIS_BYTES}
    project.assert_complete("20251031_0900", second)
    # the first run is untouched, and the index offers the newest copy
    project.assert_complete("20251030_0900", first)
    entry = project.index().entries[hashlib.sha256(gis_data(b"roads v1")).hexdigest()]
    assert entry.key == f"{project.key}/gis_data/20251031_0900/roads.gpkg"
    print(f"bytes sent: first run {sent_first}, second run {sent_second}")


def test_changed_gis_data_is_sent(project: Project):
    project.upload("20251030_0900")
    project.write("gis_data/roads.gpkg", gis_data(b"roads v2"))
    changed, sent = project.upload("20251031_0900")
    assert changed.files_reused == 0
    assert sent >= GIS_BYTES
    project.assert_complete("20251031_0900", changed)


def test_switched_off_every_file_is_sent(project: Project):
    project.upload("20251030_0900")
    again, sent = project.upload("20251031_0900", skip_unchanged=False)
    assert again.files_reused == 0
    assert sent >= GIS_BYTES
    project.assert_complete("20251031_0900", again)


def test_copy_deleted_from_the_archive_is_sent_again_in_full_automatically(project: Project):
    first, _ = project.upload("20251030_0900")
    project.s3.delete_object(Bucket=project.bucket, Key=f"{project.key}/gis_data/20251030_0900/roads.gpkg")

    result, sent = project.upload("20251031_0900")
    assert result.resent is True
    assert result.files_reused == 0
    assert sent >= GIS_BYTES
    assert result.timestamp == "20251031_0900"
    project.assert_complete("20251031_0900", result)
    # and the next run reuses the fresh copy again
    third, sent_third = project.upload("20251101_0900")
    assert third.files_reused == 1
    assert sent_third < GIS_BYTES // 100
    project.assert_complete("20251101_0900", third)
