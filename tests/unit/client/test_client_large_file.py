"""A 100 GB file's upload, without its bytes: the parts s3transfer asks S3 for with our settings.

The file is sparse (no blocks on disk) and the S3 client a recorder that never reads a body, so the
whole multipart upload is planned and "sent" in seconds. S3 accepts at most 10,000 parts of 5 MiB
to 5 GiB each; with the default 8 MiB parts a 100 GB file would need 11,921.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.hooks import HierarchicalEmitter

from artifact_backup.transfer import UploadConfig
from artifact_backup.upload.sender import SEND_ARGS, transfer_manager
from artifact_backup.upload.subscribers import ListedSize
from artifact_contract.s3 import MAX_PART_BYTES, MAX_PARTS, MIN_PART_BYTES

GB = 10**9
MiB = 1024 * 1024


class RecordingS3:
    """What s3transfer needs of a client, answering each request at once and reading nothing."""

    def __init__(self) -> None:
        self.meta = SimpleNamespace(events=HierarchicalEmitter(),
                                    config=SimpleNamespace(request_checksum_calculation="when_supported"))
        self.lock = threading.Lock()
        self.parts: dict[int, int] = {}
        self.completed: list[dict[str, Any]] = []

    def create_multipart_upload(self, **kw: Any) -> dict[str, Any]:
        return {"UploadId": "u1"}

    def upload_part(self, **kw: Any) -> dict[str, Any]:
        body = kw["Body"]
        with self.lock:
            self.parts[kw["PartNumber"]] = len(body)  # ReadFileChunk knows its size without reading
        body.close()
        return {"ETag": f"e{kw['PartNumber']}", "ChecksumCRC32": "AAAAAA=="}

    def complete_multipart_upload(self, **kw: Any) -> dict[str, Any]:
        self.completed.append(kw)
        return {}

    def abort_multipart_upload(self, **kw: Any) -> dict[str, Any]:
        raise AssertionError("nothing should be aborted")


@pytest.mark.parametrize("chunk_mb", [8, 64])
def test_a_100_gb_file_goes_in_at_most_10000_parts(tmp_path, chunk_mb: int) -> None:
    size = 100 * GB
    sparse = tmp_path / "survey.gpkg"
    with sparse.open("wb") as handle:
        handle.truncate(size)
    s3 = RecordingS3()
    config = UploadConfig(multipart_chunksize=chunk_mb * MiB, max_concurrency=8)

    with transfer_manager(s3, config) as manager:
        manager.upload(str(sparse), "staging", "incoming/P/run/blobs/x", extra_args=dict(SEND_ARGS),
                       subscribers=[ListedSize(size)]).result()

    assert len(s3.completed) == 1
    numbers = sorted(s3.parts)
    assert len(numbers) <= MAX_PARTS
    assert numbers == list(range(1, len(numbers) + 1))
    assert sum(s3.parts.values()) == size
    assert all(MIN_PART_BYTES <= s3.parts[n] <= MAX_PART_BYTES for n in numbers[:-1])
    assert [p["PartNumber"] for p in s3.completed[0]["MultipartUpload"]["Parts"]] == numbers
