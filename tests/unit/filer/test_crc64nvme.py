"""Every archived object holds the manifest's CRC64NVME, full-object, however the filer wrote it:
the requests each path sends, what S3 then holds, and the refusal of a manifest whose value lies."""

from __future__ import annotations

from typing import Any

import pytest

from artifact_contract import (
    META_SHA256,
    FileEntry,
    RefusalCode,
    Reuse,
    RunRecord,
    build_manifest,
    crc64nvme_b64,
    run_record_key,
)
from artifact_filer import Filer, FilerConfig, FilerRefusedError
from artifact_filer.crt import _checksum_headers
from artifact_filer.exceptions import ArchiveChangedError
from artifact_filer.storage import archive_metadata, sha256_b64
from tests.support.s3 import list_keys
from tests.support.staged import ARCHIVE, STAGING, StagedRun, crc_mismatches, sha

PROJECT = "RMI25320"
TS1, TS2 = "20251030_1430", "20251031_0900"
MiB = 1024 * 1024
GIS = ("gis_data", "roads.gpkg")
GIS_DATA = bytes(range(256)) * 1024  # 256 KiB: a blob, copied in one request
MOSAIC = ("gis_data", "mosaic.gpkg")
MOSAIC_DATA = bytes(range(251)) * (11 * MiB // 251)  # above the threshold below: copied in parts
SMALL = {("config", "config.yaml"): b"project: RMI25320\n", ("logs", "process_log.txt"): b"ok\n" * 300}
WRONG_CRC = crc64nvme_b64(b"other bytes")


@pytest.fixture
def calls(s3) -> list[tuple[str, dict[str, Any]]]:
    """Every archive write the filer's client sends, with its parameters as the caller gave them."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if params.get("Bucket") == ARCHIVE and "Key" in params and not params["Key"].startswith(
                (f"{PROJECT}/_runs", f"{PROJECT}/_claims", "_")):
            seen.append((model.name, {k: v for k, v in params.items() if k != "Body"}))

    s3.meta.events.register("provide-client-params.s3", record)
    return seen


@pytest.fixture
def filer(s3, steps) -> Filer:
    """A filer whose blobs above 1 MiB are copied in parts, in 5 MiB parts."""
    return Filer(s3, staging_bucket=STAGING, archive_bucket=ARCHIVE, config=FilerConfig(
        concurrency=8, on_step=steps.append, multipart_copy_threshold_bytes=MiB,
        multipart_copy_chunk_bytes=5 * MiB))


def record_of(s3, run: StagedRun, timestamp: str) -> RunRecord:
    raw = s3.get_object(Bucket=ARCHIVE, Key=run_record_key(PROJECT, timestamp, run.run_id))["Body"].read()
    return RunRecord.from_json(raw)


def reusing(first: StagedRun, timestamp: str, *, crc: str | None) -> StagedRun:
    """A run whose GIS file travels by reuse of ``first``'s copy, with ``crc`` in its manifest."""
    run = StagedRun(PROJECT, {("logs", "process_log.txt"): b"second\n"}, timestamp=timestamp, crc64nvme=True)
    base = run.build()
    run.manifest = build_manifest(
        run_id=base.run_id, project_key=PROJECT, timestamp=timestamp, archive_bucket=ARCHIVE,
        created_at=base.created_at, pieces=base.pieces,
        files=[*base.files, FileEntry(*GIS, len(GIS_DATA), sha(GIS_DATA), None, Reuse(sha(GIS_DATA)),
                                      crc64nvme=crc)],
    )
    run.files[GIS] = GIS_DATA
    return run


def test_every_path_writes_the_manifests_crc64nvme_and_s3_holds_it(s3, filer, calls):
    run = StagedRun(PROJECT, {**SMALL, GIS: GIS_DATA, MOSAIC: MOSAIC_DATA}, timestamp=TS1, crc64nvme=True)
    assert filer.file(run.upload(s3)).filed
    crc = {e.path: e.crc64nvme for e in run.manifest.files}
    puts = {p["Key"].rsplit("/", 1)[-1]: p for op, p in calls if op == "PutObject"}
    assert set(puts) == {"config.yaml", "process_log.txt"}
    for name, put in puts.items():
        assert put["ChecksumAlgorithm"] == "CRC64NVME"
        assert put["ChecksumCRC64NVME"] == crc[next(p for p in crc if p.endswith(name))]
        assert "ChecksumSHA256" not in put
        assert put["Metadata"][META_SHA256]  # the SHA-256 stays, as metadata
    (copy,) = [p for op, p in calls if op == "CopyObject"]
    assert copy["ChecksumAlgorithm"] == "CRC64NVME"
    (create,) = [p for op, p in calls if op == "CreateMultipartUpload"]
    assert (create["ChecksumAlgorithm"], create["ChecksumType"]) == ("CRC64NVME", "FULL_OBJECT")
    (complete,) = [p for op, p in calls if op == "CompleteMultipartUpload"]
    assert complete["ChecksumCRC64NVME"] == crc["mosaic.gpkg"]
    assert complete["ChecksumType"] == "FULL_OBJECT"
    record = record_of(s3, run, TS1)
    assert len(record.files) == 4
    assert crc_mismatches(s3, ARCHIVE, record) == {}


def test_a_manifest_without_crc64nvme_is_filed_with_sha256_as_before(s3, filer, calls):
    run = StagedRun(PROJECT, {**SMALL, GIS: GIS_DATA, MOSAIC: MOSAIC_DATA}, timestamp=TS1)
    assert filer.file(run.upload(s3)).filed
    for op, params in calls:
        if op in ("PutObject", "CopyObject", "CreateMultipartUpload"):
            assert params["ChecksumAlgorithm"] == "SHA256", (op, params)
        assert "ChecksumCRC64NVME" not in params, (op, params)
        assert "ChecksumType" not in params, (op, params)
    put = next(p for op, p in calls if op == "PutObject")
    assert put["ChecksumSHA256"] == sha256_b64(put["Metadata"][META_SHA256])


def test_a_reused_copy_written_with_sha256_is_copied_to_the_crc64nvme(s3, filer):
    first = StagedRun(PROJECT, {GIS: GIS_DATA}, timestamp=TS1)  # an older client: SHA-256 only
    assert filer.file(first.upload(s3)).filed
    held = s3.head_object(Bucket=ARCHIVE, Key=f"{PROJECT}/gis_data/{TS1}/roads.gpkg", ChecksumMode="ENABLED")
    assert "ChecksumCRC64NVME" not in held
    second = reusing(first, TS2, crc=crc64nvme_b64(GIS_DATA))
    assert filer.file(second.upload(s3)).filed
    record = record_of(s3, second, TS2)
    assert {f.path for f in record.files} == {"roads.gpkg", "process_log.txt"}
    assert crc_mismatches(s3, ARCHIVE, record) == {}


def test_a_reused_copys_lying_crc64nvme_is_undone_and_refused(s3, filer):
    first = StagedRun(PROJECT, {GIS: GIS_DATA}, timestamp=TS1)  # SHA-256 only: the lie shows on copy
    assert filer.file(first.upload(s3)).filed
    second = reusing(first, TS2, crc=WRONG_CRC)
    refused = refusal(filer, second.upload(s3))
    assert refused.code == RefusalCode.REUSE_UNAVAILABLE, refused
    assert "checksum is not the manifest's" in refused.reason, refused
    # Copied first, alone: nothing else of the run was written before the lie showed.
    assert [k for k in list_keys(s3, ARCHIVE) if TS2 in k and "/_" not in k] == []


def test_a_reused_copy_holding_another_crc64nvme_is_refused_before_anything_is_written(s3, filer):
    first = StagedRun(PROJECT, {GIS: GIS_DATA}, timestamp=TS1, crc64nvme=True)
    assert filer.file(first.upload(s3)).filed
    refused = refusal(filer, reusing(first, TS2, crc=WRONG_CRC).upload(s3))
    assert refused.code == RefusalCode.REUSE_UNAVAILABLE, refused
    assert f"has the crc64nvme {crc64nvme_b64(GIS_DATA)}, the manifest declares {WRONG_CRC}" in refused.reason
    assert [k for k in list_keys(s3, ARCHIVE) if TS2 in k and "/_" not in k] == []


def refusal(filer: Filer, key: str) -> FilerRefusedError:
    with pytest.raises(FilerRefusedError) as raised:
        filer.file(key)
    return raised.value


def lying(run: StagedRun, path: str) -> StagedRun:
    """``run`` with the manifest's CRC64NVME of ``path`` replaced by another file's."""
    run.build()
    files = [FileEntry(f.type, f.path, f.size, f.sha256, f.piece, f.reuse,
                       WRONG_CRC if f.path == path else f.crc64nvme) for f in run.manifest.files]
    run.manifest = build_manifest(
        run_id=run.run_id, project_key=PROJECT, timestamp=run.timestamp, archive_bucket=ARCHIVE,
        created_at=run.manifest.created_at, files=files, pieces=run.manifest.pieces)
    return run


@pytest.mark.parametrize(("path", "code"), [("config.yaml", RefusalCode.MEMBER_MISMATCH),
                                            ("roads.gpkg", RefusalCode.PIECE_CORRUPT),
                                            ("mosaic.gpkg", RefusalCode.PIECE_CORRUPT)])
def test_a_lying_crc64nvme_refuses_the_run_before_anything_is_archived(s3, filer, path, code):
    run = lying(StagedRun(PROJECT, {**SMALL, GIS: GIS_DATA, MOSAIC: MOSAIC_DATA}, timestamp=TS1,
                          crc64nvme=True), path)
    refused = refusal(filer, run.upload(s3))
    assert refused.code == code, refused
    assert f"the manifest declares {WRONG_CRC}" in refused.reason, refused
    assert "crc64nvme" in refused.reason, refused
    assert [k for k in list_keys(s3, ARCHIVE) if "/_" not in k] == []


def test_a_copy_answered_with_another_crc64nvme_is_undone_and_refused(s3, filer):
    """As a source replaced under a server that ignored CopySourceIfMatch would be answered."""
    def other(parsed: dict[str, Any], **_: Any) -> None:
        parsed.setdefault("CopyObjectResult", {})["ChecksumCRC64NVME"] = WRONG_CRC

    s3.meta.events.register("after-call.s3.CopyObject", other)
    run = StagedRun(PROJECT, {**SMALL, GIS: GIS_DATA}, timestamp=TS1, crc64nvme=True)
    assert refusal(filer, run.upload(s3)).code == RefusalCode.PIECE_CHANGED
    assert list_keys(s3, ARCHIVE, f"{PROJECT}/gis_data/") == []


def test_a_blob_copy_assembled_with_another_crc64nvme_is_removed_and_made_again(s3, filer):
    """As S3 would answer an assembly of other bytes than the verified blob's (moto answers none):
    S3's fault, not the run's, so the message fails and its next delivery copies the blob again."""
    def other(parsed: dict[str, Any], **_: Any) -> None:
        parsed["ChecksumCRC64NVME"] = WRONG_CRC

    run = StagedRun(PROJECT, {**SMALL, MOSAIC: MOSAIC_DATA}, timestamp=TS1, crc64nvme=True)
    key = f"{PROJECT}/gis_data/{TS1}/mosaic.gpkg"
    s3.meta.events.register("after-call.s3.CompleteMultipartUpload", other)
    with pytest.raises(ArchiveChangedError, match=f"S3 computed the crc64nvme {WRONG_CRC}"):
        filer.file(run.upload(s3))
    assert key not in list_keys(s3, ARCHIVE, f"{PROJECT}/gis_data/")
    s3.meta.events.unregister("after-call.s3.CompleteMultipartUpload", other)
    assert filer.file(run.manifest_key).filed
    assert crc_mismatches(s3, ARCHIVE, record_of(s3, run, TS1)) == {}


def _earlier_attempts_object(s3, path: str, **checksum: str) -> tuple[StagedRun, str, dict]:
    """A CRC run staged, and ``path``'s archive key already holding its bytes with this run's metadata
    and ``checksum`` (a ``ChecksumAlgorithm`` and its value, if any): as an earlier attempt left it."""
    run = StagedRun(PROJECT, {**SMALL, GIS: GIS_DATA}, timestamp=TS1, crc64nvme=True)
    manifest = run.build()
    entry = next(f for f in manifest.files if f.path == path)
    key = f"{PROJECT}/{entry.type}/{TS1}/{path}"
    if checksum.get("ChecksumAlgorithm") == "CRC64NVME":
        checksum["ChecksumCRC64NVME"] = entry.crc64nvme
    put = s3.put_object(Bucket=ARCHIVE, Key=key, Body=run.files[(entry.type, path)],
                        Metadata=archive_metadata(manifest, entry), **checksum)
    return run, key, put


@pytest.mark.parametrize("path", ["config.yaml", "roads.gpkg"])
def test_an_earlier_attempts_object_without_the_crc64nvme_is_replaced_not_accepted(s3, filer, path):
    # As a filer that predates the CRC64NVME left it: this run's metadata, a SHA-256 checksum.
    run, _, _ = _earlier_attempts_object(s3, path, ChecksumAlgorithm="SHA256")
    assert filer.file(run.upload(s3)).filed
    assert crc_mismatches(s3, ARCHIVE, record_of(s3, run, TS1)) == {}


@pytest.mark.parametrize("path", ["config.yaml", "roads.gpkg"])
def test_an_earlier_attempts_object_with_the_crc64nvme_is_accepted_as_it_is(s3, filer, path):
    run, key, earlier = _earlier_attempts_object(s3, path, ChecksumAlgorithm="CRC64NVME")
    assert filer.file(run.upload(s3)).filed
    versions = s3.list_object_versions(Bucket=ARCHIVE, Prefix=key)["Versions"]
    assert [v["VersionId"] for v in versions] == [earlier["VersionId"]]


def test_the_native_putter_sends_one_checksum_and_its_algorithm():
    assert _checksum_headers("AAAAAAAAAAA=", None) == [
        ("x-amz-sdk-checksum-algorithm", "CRC64NVME"), ("x-amz-checksum-crc64nvme", "AAAAAAAAAAA=")]
    assert _checksum_headers(None, "c2hh") == [
        ("x-amz-sdk-checksum-algorithm", "SHA256"), ("x-amz-checksum-sha256", "c2hh")]
    with pytest.raises(ValueError, match="exactly one"):
        _checksum_headers("AAAAAAAAAAA=", "c2hh")
    with pytest.raises(ValueError, match="exactly one"):
        _checksum_headers(None, None)
