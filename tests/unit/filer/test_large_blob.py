"""A 100 GB blob, filed without its bytes: the filer's part copy as S3 would see its requests.

A fake S3 client records the multipart copy; nothing is read or sent, so the size can be what a
real GIS data set reaches. S3 accepts at most 10,000 parts of 5 MiB to 5 GiB each.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from artifact_contract import (
    FileEntry,
    Piece,
    blob_piece_id,
    build_manifest,
    manifest_key,
    parse_manifest_key,
)
from artifact_contract.s3 import MAX_PART_BYTES, MAX_PARTS, MIN_PART_BYTES
from artifact_filer import FilerConfig
from artifact_filer import copy as copy_step
from artifact_filer.context import FilingContext
from tests.support.staged import ARCHIVE, STAGING, new_run_id

GB = 10**9
MiB = 1024 * 1024
SHA = "ab" * 32
RANGE = re.compile(r"bytes=(\d+)-(\d+)")


class RecordingS3:
    """The requests of a multipart copy, answered as S3 answers them; a HEAD finds nothing until
    the upload is complete, then the object with the run's metadata."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.parts: list[dict[str, Any]] = []
        self.completed: dict[str, Any] | None = None
        self.metadata: dict[str, str] = {}

    def head_object(self, **kw: Any) -> dict[str, Any]:
        if self.completed is None:
            raise ClientError({"Error": {"Code": "404"}, "ResponseMetadata": {"HTTPStatusCode": 404}},
                              "HeadObject")
        # S3 keeps the full-object CRC64NVME a completion gave, once it matched the parts.
        kept = {k: self.completed[k] for k in ("ChecksumCRC64NVME", "ChecksumType") if k in self.completed}
        return {"Metadata": self.metadata, "ContentLength": 0, **kept}

    def create_multipart_upload(self, **kw: Any) -> dict[str, Any]:
        self.metadata = kw["Metadata"]
        self.created = kw
        return {"UploadId": "u1"}

    def upload_part_copy(self, **kw: Any) -> dict[str, Any]:
        with self.lock:
            self.parts.append(kw)
        return {"CopyPartResult": {"ETag": f"e{kw['PartNumber']}",
                                   f"Checksum{self.created['ChecksumAlgorithm']}": "c"}}

    def complete_multipart_upload(self, **kw: Any) -> dict[str, Any]:
        self.completed = kw
        return {}

    def abort_multipart_upload(self, **kw: Any) -> dict[str, Any]:
        raise AssertionError("nothing should be aborted")


@pytest.mark.parametrize("crc", [None, "AAAAAAAAAAE="])
@pytest.mark.parametrize("chunk", [8 * MiB, 128 * MiB])
@pytest.mark.parametrize("size", [100 * GB, 5 * 1024 * GB])
def test_a_huge_blob_is_copied_in_at_most_10000_parts(chunk: int, size: int, crc: str | None) -> None:
    s3 = RecordingS3()
    piece = Piece(blob_piece_id(SHA), "blob", size, SHA)
    entry = FileEntry("gis_data", "survey.gpkg", size, SHA, piece.id, crc64nvme=crc)
    manifest = build_manifest(run_id=new_run_id(), project_key="P", timestamp="20251030_1430",
                              archive_bucket=ARCHIVE, created_at="2025-10-30T14:30:00+00:00",
                              files=[entry], pieces=[piece])

    ctx = FilingContext(client=s3, staging_bucket=STAGING, archive_bucket=ARCHIVE,
                        config=FilerConfig(concurrency=8, multipart_copy_chunk_bytes=chunk),
                        log=logging.getLogger("test"), transfer=TransferConfig(),
                        key=manifest_key("P", manifest.run_id),
                        location=parse_manifest_key(manifest_key("P", manifest.run_id)))

    copy_step.copy_blob(ctx, manifest, piece, '"etag-verified"', entry)

    parts = sorted(s3.parts, key=lambda p: p["PartNumber"])
    assert len(parts) <= MAX_PARTS
    assert [p["PartNumber"] for p in parts] == list(range(1, len(parts) + 1))
    spans = [tuple(map(int, RANGE.fullmatch(p["CopySourceRange"]).groups())) for p in parts]
    assert spans[0][0] == 0
    assert spans[-1][1] == size - 1
    assert all(b[0] == a[1] + 1 for a, b in zip(spans, spans[1:], strict=False))
    assert all(MIN_PART_BYTES <= last - first + 1 <= MAX_PART_BYTES for first, last in spans[:-1])
    # Every part is held to the verified staging object, and the completion is conditional.
    assert {p["CopySourceIfMatch"] for p in parts} == {'"etag-verified"'}
    assert s3.completed is not None
    assert s3.completed["IfNoneMatch"] == "*"
    assert len(s3.completed["MultipartUpload"]["Parts"]) == len(parts)
    assert s3.metadata["sha256"] == SHA
    if crc is None:  # a manifest of an older client: SHA-256 parts, no full-object checksum
        assert s3.created["ChecksumAlgorithm"] == "SHA256"
        assert "ChecksumType" not in s3.created
        assert "ChecksumCRC64NVME" not in s3.completed
    else:  # S3 assembles the parts only if their whole is the manifest's CRC64NVME
        assert (s3.created["ChecksumAlgorithm"], s3.created["ChecksumType"]) == ("CRC64NVME", "FULL_OBJECT")
        assert (s3.completed["ChecksumCRC64NVME"], s3.completed["ChecksumType"]) == (crc, "FULL_OBJECT")
        assert {p.get("ChecksumCRC64NVME") for p in s3.completed["MultipartUpload"]["Parts"]} == {"c"}
