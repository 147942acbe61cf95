"""Every archived object holds, as S3's own full-object checksum, the CRC64NVME its run record holds,
however the filer wrote it: packed puts, blob copies, a large blob copied in parts, a file reused
from an earlier run stored with SHA-256. Runs are staged as a client that computes the CRC64NVME
stages them (``tests.support.staged``), and filed by the Lambda handler from the queue.

A reused copy whose manifest gives a CRC64NVME that is not its bytes' never stays in the archive,
nor anything else of its run. On LocalStack (``strict_s3``), S3 itself is the checker: a multipart
copy completed with another CRC64NVME than the bytes assembled is refused by the server.
"""

from __future__ import annotations

from typing import Any

import pytest

from artifact_backup.local import LocalFilerWorker, LocalStack
from artifact_contract import (
    FileEntry,
    Receipt,
    RefusalCode,
    Reuse,
    RunRecord,
    build_manifest,
    crc64nvme_b64,
    run_record_key,
)
from tests.support.local import backend_under_test
from tests.support.s3 import list_keys
from tests.support.staged import StagedRun, crc_mismatches, sha

from .conftest import MakeFiler
from .support import MiB, drain, noise, read_receipt, versions

pytestmark = pytest.mark.integration

PROJECT = "P1"
TS1, TS2 = "20251030_1430", "20251031_0900"
SMALL = {("config", "config.yaml"): b"project: P1\n", ("logs", "process_log.txt"): b"step ok\n" * 500,
         ("report", "report.html"): b"<html>report</html>"}
BLOB = ("gis_data", "centerline.shp")
BLOB_DATA = noise("centerline", 300 * 1024)  # a blob below the tuning's 1 MiB: one CopyObject
MOSAIC = ("gis_data", "mosaic.gpkg")
MOSAIC_DATA = noise("mosaic", 11 * MiB)  # above it: copied in three 5 MiB parts
REUSED = ("gis_data", "roads.gpkg")
REUSED_DATA = noise("roads", 200 * 1024)
LARGE_REUSED = ("gis_data", "elevation.gpkg")
LARGE_REUSED_DATA = noise("dem", 6 * MiB)
WRONG_CRC = crc64nvme_b64(b"not these bytes")


def stage(s3: Any, stack: LocalStack, run: StagedRun) -> StagedRun:
    run.upload(s3, bucket=stack.names.staging_bucket)
    return run


def staged(stack: LocalStack, files: dict[tuple[str, str], bytes], timestamp: str, *, crc: bool,
           reused: dict[tuple[str, str], tuple[bytes, str | None]] | None = None) -> StagedRun:
    """A run as its client stages it; ``reused`` files travel by reuse, with the CRC64NVME given."""
    run = StagedRun(PROJECT, dict(files), timestamp=timestamp, archive_bucket=stack.names.archive_bucket,
                    crc64nvme=crc)
    base = run.build()
    extra = [FileEntry(t, p, len(d), sha(d), None, Reuse(sha(d)), crc64nvme=c)
             for (t, p), (d, c) in (reused or {}).items()]
    run.manifest = build_manifest(
        run_id=base.run_id, project_key=PROJECT, timestamp=timestamp,
        archive_bucket=stack.names.archive_bucket, created_at=base.created_at, files=[*base.files, *extra],
        pieces=base.pieces)
    run.files.update({k: d for k, (d, _) in (reused or {}).items()})
    return run


def receipt_of(s3: Any, stack: LocalStack, worker: LocalFilerWorker, run: StagedRun) -> Receipt:
    """The run's receipt, once the filer wrote it: S3's notification reaches the queue a moment
    after the manifest's put, so an empty queue alone does not mean the run was handled."""
    drain(worker, until=lambda: read_receipt(s3, stack, PROJECT, run.run_id) is not None)
    receipt = read_receipt(s3, stack, PROJECT, run.run_id)
    assert receipt is not None
    return receipt


def record_of(s3: Any, stack: LocalStack, run: StagedRun) -> RunRecord:
    key = run_record_key(PROJECT, run.timestamp, run.run_id)
    return RunRecord.from_json(s3.get_object(Bucket=stack.names.archive_bucket, Key=key)["Body"].read())


def file_earlier_run(s3: Any, stack: LocalStack, worker: LocalFilerWorker) -> None:
    """A run filed by a client that predates the CRC64NVME: its large files are stored with SHA-256."""
    first = stage(s3, stack, staged(stack, {REUSED: REUSED_DATA, LARGE_REUSED: LARGE_REUSED_DATA}, TS1,
                                    crc=False))
    receipt = receipt_of(s3, stack, worker, first)
    assert receipt.filed, receipt
    held = s3.head_object(Bucket=stack.names.archive_bucket, Key=f"{PROJECT}/gis_data/{TS1}/roads.gpkg",
                          ChecksumMode="ENABLED")
    assert "ChecksumCRC64NVME" not in held, held


def test_every_archived_object_holds_the_crc64nvme_of_its_record(
        stack, s3, make_filer: MakeFiler, worker: LocalFilerWorker):
    make_filer()
    file_earlier_run(s3, stack, worker)
    run = stage(s3, stack, staged(
        stack, {**SMALL, BLOB: BLOB_DATA, MOSAIC: MOSAIC_DATA}, TS2, crc=True,
        reused={REUSED: (REUSED_DATA, crc64nvme_b64(REUSED_DATA)),
                LARGE_REUSED: (LARGE_REUSED_DATA, crc64nvme_b64(LARGE_REUSED_DATA))}))
    receipt = receipt_of(s3, stack, worker, run)
    assert receipt.filed, receipt
    record = record_of(s3, stack, run)
    assert len(record.files) == len(SMALL) + 4
    assert all(f.crc64nvme for f in record.files)
    assert crc_mismatches(s3, stack.names.archive_bucket, record) == {}
    if backend_under_test() == "localstack":  # S3's own answer names the type; moto's only for parts
        for f in record.files:
            held = s3.head_object(Bucket=stack.names.archive_bucket, Key=f.key, ChecksumMode="ENABLED")
            assert held["ChecksumType"] == "FULL_OBJECT", (f.key, held)


@pytest.mark.strict_s3
def test_a_blob_copied_in_parts_holds_its_full_object_crc64nvme_and_s3_refuses_another(
        stack, s3, make_filer: MakeFiler, worker: LocalFilerWorker):
    filer = make_filer()
    told: list[str] = []
    statuses: list[int] = []

    def misreport(params: dict[str, Any], **_: Any) -> None:
        if not told:  # the first completion only: the message's next delivery tells the truth
            told.append(params["ChecksumCRC64NVME"])
            params["ChecksumCRC64NVME"] = WRONG_CRC

    def answered(http_response: Any, **_: Any) -> None:
        statuses.append(http_response.status_code)

    filer.client.meta.events.register("provide-client-params.s3.CompleteMultipartUpload", misreport)
    filer.client.meta.events.register("after-call.s3.CompleteMultipartUpload", answered)
    run = stage(s3, stack, staged(stack, {**SMALL, MOSAIC: MOSAIC_DATA}, TS1, crc=True))
    receipt = receipt_of(s3, stack, worker, run)
    assert receipt.filed, receipt
    assert told == [crc64nvme_b64(MOSAIC_DATA)]
    # The server refused to assemble the parts under another CRC64NVME (nothing was stored, the
    # message failed); its next delivery completed the copy under the blob's own.
    assert statuses[0] == 400, statuses
    assert statuses[-1] == 200, statuses
    archive = stack.names.archive_bucket
    key = f"{PROJECT}/gis_data/{TS1}/mosaic.gpkg"
    assert versions(s3, archive, "P1/gis_data/") == {key: 1}
    assert s3.list_multipart_uploads(Bucket=archive).get("Uploads", []) == []
    held = s3.head_object(Bucket=archive, Key=key, ChecksumMode="ENABLED")
    assert (held["ChecksumCRC64NVME"], held["ChecksumType"]) == (crc64nvme_b64(MOSAIC_DATA), "FULL_OBJECT")
    attributes = s3.get_object_attributes(Bucket=archive, Key=key, ObjectAttributes=["ObjectParts"])
    assert attributes["ObjectParts"]["TotalPartsCount"] == 3
    assert crc_mismatches(s3, archive, record_of(s3, stack, run)) == {}


@pytest.mark.parametrize("reused", [REUSED, LARGE_REUSED], ids=["single-copy", "multipart-copy"])
def test_a_reused_file_whose_crc64nvme_lies_is_refused_and_nothing_stays_archived(
        reused, stack, s3, make_filer: MakeFiler, worker: LocalFilerWorker):
    """The source was stored with SHA-256, so only the copy shows the lie: S3 computes the copy's
    CRC64NVME from the bytes (and refuses a multipart completion given another; moto completes it
    and the filer's HEAD finds the bytes' value, so it removes the copy). Copied before anything
    else of the run, nothing of the run stays in the archive."""
    make_filer()
    file_earlier_run(s3, stack, worker)
    data = REUSED_DATA if reused == REUSED else LARGE_REUSED_DATA
    run = stage(s3, stack, staged(stack, SMALL, TS2, crc=True, reused={reused: (data, WRONG_CRC)}))
    receipt = receipt_of(s3, stack, worker, run)
    assert receipt.code == RefusalCode.REUSE_UNAVAILABLE, receipt
    assert "checksum is not the manifest's" in (receipt.reason or ""), receipt
    archive = stack.names.archive_bucket
    assert [k for k in list_keys(s3, archive, f"{PROJECT}/") if TS2 in k and "/_" not in k] == []
    assert s3.list_multipart_uploads(Bucket=archive).get("Uploads", []) == []
