"""Filing runs end to end against an in-process S3: what lands where, and what is refused."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from urllib.parse import quote

import pytest
from botocore.response import StreamingBody

from artifact_contract import (
    META_ARTIFACT_TYPE,
    META_PROJECT_KEY,
    META_RUN_ID,
    META_SHA256,
    META_TIMESTAMP,
    Receipt,
    RefusalCode,
    RunRecord,
    receipt_key,
    reuse_index_key,
    run_record_key,
    type_claim_key,
)
from artifact_filer import STEPS, FilerRefusedError, RunRefusedError, TimestampTakenError
from tests.support.filing import (
    PROJECT,
    TS,
    archive_snapshot,
    assert_refused,
    claim_keys,
    refused_before_archive,
    refused_with_tampered_packs,
    sample_files,
)
from tests.support.s3 import list_keys
from tests.support.staged import ARCHIVE, STAGING, StagedRun, regular, sha


def test_good_run_is_filed_exactly(s3, filer, steps):
    run = StagedRun(PROJECT, sample_files(), timestamp=TS)
    key = run.upload(s3)
    assert any(p.kind == "blob" for p in run.manifest.pieces)
    assert any(p.kind == "pack" for p in run.manifest.pieces)

    receipt = filer.file(key)

    expected = {f"{PROJECT}/{t}/{TS}/{p}": data for (t, p), data in run.files.items()}
    record_key = run_record_key(PROJECT, TS, run.run_id)
    assert set(list_keys(s3, ARCHIVE)) == set(expected) | {record_key, *claim_keys(run)}
    for key_, data in expected.items():
        obj = s3.get_object(Bucket=ARCHIVE, Key=key_, ChecksumMode="ENABLED")
        assert obj["Body"].read() == data, key_
        assert obj["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
        type_ = key_.split("/")[1]
        assert obj["Metadata"] == {
            META_SHA256: sha(data),
            META_RUN_ID: run.run_id,
            META_PROJECT_KEY: PROJECT,
            META_ARTIFACT_TYPE: type_,
            META_TIMESTAMP: TS,
        }
        tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=ARCHIVE, Key=key_)["TagSet"]}
        assert tags == {"artifact-backup:managed": "true", "artifact-backup:retention": "standard"}
    html = s3.head_object(Bucket=ARCHIVE, Key=f"{PROJECT}/report/{TS}/report.html")
    assert html["ContentType"] == "text/html"

    record = RunRecord.from_json(s3.get_object(Bucket=ARCHIVE, Key=record_key)["Body"].read())
    assert record.run_id == run.run_id
    assert {f.key: (f.size, f.sha256) for f in record.files} == {
        k: (len(d), sha(d)) for k, d in expected.items()
    }

    assert receipt is not None
    assert receipt.filed
    stored_raw = s3.get_object(Bucket=STAGING, Key=receipt_key(PROJECT, run.run_id))["Body"].read()
    stored = Receipt.from_json(stored_raw)
    assert stored.status == "filed"
    assert stored.files == len(expected)
    assert stored.bytes == sum(map(len, expected.values()))
    assert stored.run_record == record_key
    assert set(stored.prefixes) == {f"{PROJECT}/{t}/{TS}/" for t in ("config", "logs", "report", "gis_data")}
    # Staging keeps the receipt, and the reuse index offering the run's large files.
    assert list_keys(s3, STAGING) == [reuse_index_key(PROJECT), receipt_key(PROJECT, run.run_id)]
    assert [s for s in steps if s != "object-filed"] == [s for s in STEPS if s != "object-filed"]
    assert steps.count("object-filed") == len(expected)


def test_untimestamped_layout(s3, filer):
    run = StagedRun(PROJECT, {("config", "config.yaml"): b"a: 1\n", ("logs", "x.log"): b"x"}, timestamp=None)
    receipt = filer.file(run.upload(s3))
    record_key = run_record_key(PROJECT, None, run.run_id)
    assert list_keys(s3, ARCHIVE) == sorted(
        [f"{PROJECT}/config/config.yaml", f"{PROJECT}/logs/x.log", record_key]
    )
    assert record_key == f"{PROJECT}/_runs/untimestamped/{run.run_id}.json"
    assert receipt.timestamp is None
    assert META_TIMESTAMP not in s3.head_object(Bucket=ARCHIVE, Key=f"{PROJECT}/logs/x.log")["Metadata"]


def test_same_manifest_filed_twice_leaves_archive_unchanged(s3, filer):
    run = StagedRun(PROJECT, sample_files(), timestamp=TS)
    key = run.upload(s3)
    first = filer.file(key)
    before = archive_snapshot(s3)

    # Redelivered after success: the receipt answers.
    assert filer.file(key) == first
    # The client sends the identical run again (manifest and pieces back in staging, no receipt).
    s3.delete_object(Bucket=STAGING, Key=receipt_key(PROJECT, run.run_id))
    run.upload(s3)
    again = filer.file(key)
    assert again.filed
    assert again.files == first.files
    assert archive_snapshot(s3) == before


def test_rerun_after_crash_before_record_completes_the_same_archive(s3, filer, steps):
    run = StagedRun(PROJECT, sample_files(), timestamp=TS)
    key = run.upload(s3)
    calls = []

    def crash_mid_filing(step: str) -> None:
        calls.append(step)
        if step == "object-filed" and calls.count("object-filed") == 3:
            raise RuntimeError("killed")

    filer.config = type(filer.config)(concurrency=1, on_step=crash_mid_filing)
    with pytest.raises(RuntimeError, match="killed"):
        filer.file(key)
    assert not list_keys(s3, ARCHIVE, f"{PROJECT}/_runs/{TS}/run.json")

    filer.config = type(filer.config)(concurrency=8)
    receipt = filer.file(key)
    assert receipt.filed
    for (t, p), data in run.files.items():
        assert s3.get_object(Bucket=ARCHIVE, Key=f"{PROJECT}/{t}/{TS}/{p}")["Body"].read() == data
    assert list_keys(s3, STAGING) == [reuse_index_key(PROJECT), receipt_key(PROJECT, run.run_id)]


def test_different_run_at_same_timestamp_is_refused(s3, filer):
    first = StagedRun(PROJECT, sample_files(), timestamp=TS)
    filer.file(first.upload(s3))
    before = archive_snapshot(s3)

    other = StagedRun(PROJECT, {("logs", "process_log.txt"): b"another run\n"}, timestamp=TS)
    with pytest.raises(TimestampTakenError) as exc_info:
        filer.file(other.upload(s3))
    assert_refused(s3, other, exc_info, RefusalCode.TIMESTAMP_TAKEN)
    assert archive_snapshot(s3) == before
    claim = json.loads(s3.get_object(Bucket=ARCHIVE, Key=type_claim_key(PROJECT, TS, "logs"))["Body"].read())
    assert claim["run_id"] == first.run_id

    # Delivered again, the refusal stands and nothing moves.
    with pytest.raises(RunRefusedError) as again:
        filer.file(other.manifest_key)
    assert again.value.code == RefusalCode.TIMESTAMP_TAKEN
    assert archive_snapshot(s3) == before


def test_missing_piece_is_refused(s3, filer, steps):
    run = StagedRun(PROJECT, sample_files())
    run.build()
    blob = next(p.id for p in run.manifest.pieces if p.kind == "blob")
    refused_before_archive(s3, filer, steps, run, RefusalCode.PIECE_MISSING, skip=[blob])


def test_corrupt_pack_is_refused(s3, filer, steps):
    run = StagedRun(PROJECT, sample_files())
    run.build()
    pack = next(p.id for p in run.manifest.pieces if p.kind == "pack")
    body = bytearray(run.pieces[pack])
    body[len(body) // 2] ^= 0xFF
    run.pieces[pack] = bytes(body)
    refused_before_archive(s3, filer, steps, run, RefusalCode.PIECE_CORRUPT)


def test_blob_with_wrong_sha_is_refused(s3, filer, steps):
    run = StagedRun(PROJECT, sample_files())
    run.build()
    blob = next(p.id for p in run.manifest.pieces if p.kind == "blob")
    body = bytearray(run.pieces[blob])
    body[0] ^= 0x01  # same size, different bytes
    run.pieces[blob] = bytes(body)
    refused_before_archive(s3, filer, steps, run, RefusalCode.PIECE_CORRUPT)


def test_pack_member_with_wrong_sha_is_refused(s3, filer, steps):
    def swap(members):
        info, data = members[0]
        return [regular(info.name, bytes(len(data))), *members[1:]]

    # The manifest declares the honest content; the pack carries zeros of the same size.
    refused_with_tampered_packs(s3, filer, steps, swap, RefusalCode.MEMBER_MISMATCH)


def test_invalid_manifest_is_refused(s3, filer, steps):
    run = StagedRun(PROJECT, sample_files())
    run.build()
    refused_before_archive(s3, filer, steps, run, RefusalCode.MANIFEST_INVALID, manifest=b"{not json")


def test_manifest_for_another_archive_bucket_is_refused(s3, filer, steps):
    run = StagedRun(PROJECT, sample_files(), archive_bucket="someone-elses-bucket")
    refused_before_archive(s3, filer, steps, run, RefusalCode.MANIFEST_MISMATCH)


def test_manifest_naming_another_run_is_refused(s3, filer, steps):
    run = StagedRun(PROJECT, sample_files())
    run.build()
    other = StagedRun(PROJECT, sample_files())
    refused_before_archive(s3, filer, steps, run, RefusalCode.MANIFEST_MISMATCH,
                            manifest=other.build().to_json())


def test_piece_replaced_after_verification_is_refused(s3, filer):
    run = StagedRun(PROJECT, sample_files())
    key = run.upload(s3)
    pack = next(p.id for p in run.manifest.pieces if p.kind == "pack")

    def replace_after_verify(step: str) -> None:
        if step == "verified":
            s3.put_object(Bucket=STAGING, Key=run.piece_key(pack), Body=b"replaced")

    filer.config = type(filer.config)(concurrency=4, on_step=replace_after_verify)
    with pytest.raises(FilerRefusedError) as exc_info:
        filer.file(key)
    assert exc_info.value.code == RefusalCode.PIECE_CHANGED
    assert not [k for k in list_keys(s3, ARCHIVE) if "/report.html" in k or "/config.yaml" in k]


@pytest.mark.parametrize("target", ["manifest", "pack", "blob"])
def test_answer_cut_off_mid_body_is_read_again_not_refused(s3, filer, target):
    """An answer whose body ends early, cleanly, before its Content-Length: what a client sees when
    the connection closes mid-answer. From botocore 1.44 on urllib3 does not check the length any
    more, only botocore's StreamingBody does, so the filer must read through it: the raw stream
    would end short without an error and a good run would be refused as corrupt."""
    run = StagedRun(PROJECT, sample_files())
    key = run.upload(s3)
    wanted = run.manifest_key if target == "manifest" else run.piece_key(
        next(p.id for p in run.manifest.pieces if p.kind == target))
    cut: list[str] = []

    def cut_off_once(http_response, parsed, **_kwargs) -> None:
        if cut or not http_response.url.split("?")[0].endswith(quote(wanted)):
            return
        data = parsed["Body"].read()
        parsed["Body"] = StreamingBody(io.BytesIO(data[: len(data) // 2]), len(data))
        cut.append(wanted)

    s3.meta.events.register("after-call.s3.GetObject", cut_off_once)
    try:
        receipt = filer.file(key)
    finally:
        s3.meta.events.unregister("after-call.s3.GetObject", cut_off_once)
    assert cut == [wanted]
    assert receipt is not None
    assert receipt.filed
    assert receipt.files == len(run.files)


def test_non_manifest_key_and_vanished_manifest_do_nothing(s3, filer):
    assert filer.file("incoming/RMI25320/" + "a" * 32 + "/packs/x.tar.gz") is None
    assert filer.file("receipts/RMI25320/x.json") is None
    assert filer.file("incoming/RMI25320/" + "b" * 32 + "/manifest.json") is None
    assert list_keys(s3, ARCHIVE) == []
    assert list_keys(s3, STAGING) == []


def test_manifest_key_breaking_the_layout_is_refused_without_receipt(s3, filer):
    with pytest.raises(FilerRefusedError):
        filer.file("incoming/_bad/" + "a" * 32 + "/manifest.json")
    assert list_keys(s3, STAGING) == []
