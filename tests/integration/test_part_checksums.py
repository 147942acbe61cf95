"""Each part's CRC32C comes from the read that hashed it (artifact_backup.part_crc), end to end
against the server: sending is the only other read of a piece, every part carries the checksum
of the bytes that were hashed, and a file rewritten between its hash and its send is refused (by
S3 itself, on a server that checks checksums as S3 does).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from awscrt.checksums import crc32c

from artifact_backup import NullJournal, Uploader, load_config
from artifact_backup.exceptions import FileChangedError
from artifact_backup.part_crc import crc32c_b64
from artifact_backup.transfer import MB
from artifact_backup.upload import BackupRequest, blob_task
from artifact_backup.upload.reader import StrictReader
from tests.support.local import backend_under_test
from tests.support.s3 import answers, list_keys
from tests.support.staged import noise

pytestmark = pytest.mark.integration

PART = 5 * MB
GIS_BYTES = 12 * MB  # three parts of 5, 5 and 2 MiB


@pytest.fixture
def uploader(tmp_path, local_stack, project_key, isolated_cache) -> tuple[Uploader, BackupRequest]:
    """Two identical large GIS files, so both are hashed before they are sent (they share one
    blob), and a small log, packed."""
    folder = tmp_path / project_key
    for rel, data in (("gis_data/roads.gpkg", noise("roads", GIS_BYTES)),
                      ("gis_data/copy/roads.gpkg", noise("roads", GIS_BYTES)),
                      ("logs/process_log.txt", b"run 1\n" * 100)):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    config = tmp_path / "config.yaml"
    config.write_text(
        f'project:\n  slug: "{project_key}"\n{local_stack.config_block()}'
        "  transfer:\n    pack_threshold_mb: 1\n"
        "    multipart_threshold_mb: 5\n    multipart_chunksize_mb: 5\n",
        encoding="utf-8")
    request = BackupRequest(folder=folder, project_key=project_key, include=["gis_data", "logs"],
                            timestamp="20251030_0900")
    return Uploader(load_config(config), journal=NullJournal()), request


class Sends:
    """Every attempt at a piece's request (retries included): its key, part and CRC32C header, and
    its length, which the sender reads from the file once per attempt."""

    def __init__(self, client: Any) -> None:
        self.requests: list[tuple[str, str, int]] = []
        client.meta.events.register("before-send.s3.UploadPart", self.record)
        client.meta.events.register("before-send.s3.PutObject", self.record)

    def record(self, request: Any, **_: Any) -> None:
        if "/packs/" in request.url or "/blobs/" in request.url:
            value = request.headers["x-amz-checksum-crc32c"]
            self.requests.append((request.url, value.decode() if isinstance(value, bytes) else value,
                                  int(request.headers["Content-Length"])))


@pytest.fixture
def reads(monkeypatch) -> Counter[str]:
    """Bytes the sender read, by file."""
    seen: Counter[str] = Counter()
    real = StrictReader.read

    def read(self: StrictReader, amount: int | None = -1) -> Any:
        data = real(self, amount)
        seen[self._path] += len(data)
        return data

    monkeypatch.setattr(StrictReader, "read", read)
    return seen


def test_each_part_is_read_once_to_be_sent_and_carries_the_crc32c_of_the_bytes_hashed(uploader, reads):
    up, request = uploader
    sends = Sends(up.client)
    result = up.backup(request, wait_timeout=120)
    assert result.status == "filed", result
    # Each attempt read its body once, to send it: botocore did not read it again for its checksum.
    assert sum(reads.values()) == sum(length for _, _, length in sends.requests)
    assert sum(reads.values()) >= result.bytes_sent
    data = noise("roads", GIS_BYTES)
    expected = {n: crc32c_b64(crc32c(data[(n - 1) * PART:n * PART])) for n in (1, 2, 3)}
    blob_parts = {url.split("partNumber=")[1].split("&")[0]: value
                  for url, value, _ in sends.requests if "/blobs/" in url}
    assert {int(n): v for n, v in blob_parts.items()} == expected


def test_a_file_rewritten_between_its_hash_and_its_send_is_refused(
        uploader, local_stack, project_key, monkeypatch):
    up, request = uploader
    real_digest = blob_task.digest_file

    def rewritten_after_hash(f: Any, *args: Any) -> Any:
        digest = real_digest(f, *args)
        Path(f.location).write_bytes(noise("rewritten", f.size))  # same size, another mtime
        return digest

    monkeypatch.setattr(blob_task, "digest_file", rewritten_after_hash)
    seen = answers(up.client)
    with pytest.raises(FileChangedError, match="roads.gpkg changed while it was being uploaded"):
        up.backup(request, wait_timeout=120)
    if backend_under_test() == "localstack":
        # S3 refused the parts themselves: their bytes are not the ones their checksums were taken of.
        assert seen[("UploadPart", 400)] >= 1, seen
        assert seen[("CompleteMultipartUpload", 200)] == 0, seen
    staged = list_keys(local_stack.client("s3"), local_stack.names.staging_bucket, "incoming/")
    assert not [k for k in staged if project_key in k and k.endswith("/manifest.json")]
    assert os.path.getsize(request.folder / "gis_data/roads.gpkg") == GIS_BYTES
