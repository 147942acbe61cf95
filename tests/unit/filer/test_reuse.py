"""Reused files: copied from the archive's earlier copy, or refused with reuse-unavailable."""

from __future__ import annotations

import base64
import hashlib

import pytest

from artifact_contract import (
    META_RUN_ID,
    META_SHA256,
    META_TIMESTAMP,
    FileEntry,
    Receipt,
    RefusalCode,
    Reuse,
    ReuseIndex,
    RunRecord,
    build_manifest,
    claim_key,
    receipt_key,
    reuse_index_key,
    run_record_key,
)
from artifact_filer import STEPS, FilerRefusedError
from tests.support.s3 import list_keys
from tests.support.staged import ARCHIVE, STAGING, StagedRun, sha

PROJECT = "RMI25320"
TS1, TS2 = "20251030_1430", "20251031_0900"
GIS = ("gis_data", "roads.gpkg")
GIS_DATA = bytes(range(256)) * 1024  # 256 KiB: above StagedRun's 64 KiB pack threshold, a blob
LOG = ("logs", "process_log.txt")


def first_run(s3, filer, timestamp: str | None = TS1) -> StagedRun:
    run = StagedRun(PROJECT, {GIS: GIS_DATA, LOG: b"first\n"}, timestamp=timestamp)
    assert filer.file(run.upload(s3)).filed
    return run


def reusing_run(timestamp: str | None = TS2, data: bytes = GIS_DATA, log: bytes = b"second\n") -> StagedRun:
    """A run whose large GIS file travels by reuse: its manifest names the checksum, no piece."""
    run = StagedRun(PROJECT, {LOG: log}, timestamp=timestamp)
    base = run.build()
    run.manifest = build_manifest(
        run_id=base.run_id,
        project_key=PROJECT,
        timestamp=timestamp,
        archive_bucket=ARCHIVE,
        created_at=base.created_at,
        files=[*base.files, FileEntry(*GIS, len(data), sha(data), None, Reuse(sha(data)))],
        pieces=base.pieces,
    )
    run.files[GIS] = data
    return run


def index_of(s3) -> ReuseIndex:
    raw = s3.get_object(Bucket=STAGING, Key=reuse_index_key(PROJECT))["Body"].read()
    return ReuseIndex.from_json(raw, PROJECT)


def test_filing_indexes_the_large_files_only(s3, filer):
    run = first_run(s3, filer)
    index = index_of(s3)
    assert set(index.entries) == {sha(GIS_DATA)}
    entry = index.entries[sha(GIS_DATA)]
    assert (entry.key, entry.size, entry.run_id) == (f"{PROJECT}/gis_data/{TS1}/roads.gpkg", len(GIS_DATA),
                                                      run.run_id)
    assert index.lookup(sha(GIS_DATA), len(GIS_DATA)) == entry


def test_reused_file_is_copied_with_the_new_runs_metadata_tags_and_checksum(s3, filer, steps):
    first_run(s3, filer)
    steps.clear()
    run = reusing_run()
    receipt = filer.file(run.upload(s3))

    assert receipt.filed
    key = f"{PROJECT}/gis_data/{TS2}/roads.gpkg"
    obj = s3.get_object(Bucket=ARCHIVE, Key=key, ChecksumMode="ENABLED")
    assert obj["Body"].read() == GIS_DATA
    assert obj["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(GIS_DATA).digest()).decode()
    assert obj["Metadata"][META_RUN_ID] == run.run_id
    assert obj["Metadata"][META_TIMESTAMP] == TS2
    assert obj["Metadata"][META_SHA256] == sha(GIS_DATA)
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=ARCHIVE, Key=key)["TagSet"]}
    assert tags == {"artifact-backup:managed": "true", "artifact-backup:retention": "standard"}
    # the earlier run's copy is untouched
    old = s3.head_object(Bucket=ARCHIVE, Key=f"{PROJECT}/gis_data/{TS1}/roads.gpkg")
    assert old["Metadata"][META_TIMESTAMP] == TS1

    record = RunRecord.from_json(
        s3.get_object(Bucket=ARCHIVE, Key=run_record_key(PROJECT, TS2, run.run_id))["Body"].read()
    )
    assert {f.key for f in record.files} == {key, f"{PROJECT}/logs/{TS2}/process_log.txt"}
    assert receipt.extra == {"reused_files": 1, "reused_bytes": len(GIS_DATA)}
    assert Receipt.from_json(
        s3.get_object(Bucket=STAGING, Key=receipt_key(PROJECT, run.run_id))["Body"].read()
    ).extra == receipt.extra
    # the index now offers the newest copy, so a file reused run after run never ages into Glacier
    assert index_of(s3).entries[sha(GIS_DATA)].key == key
    assert [s for s in steps if s != "object-filed"] == [s for s in STEPS if s != "object-filed"]


def test_untimestamped_reuse_copies_the_object_onto_itself(s3, filer):
    first_run(s3, filer, timestamp=None)
    run = reusing_run(timestamp=None)
    assert filer.file(run.upload(s3)).filed
    head = s3.head_object(Bucket=ARCHIVE, Key=f"{PROJECT}/gis_data/roads.gpkg")
    assert head["Metadata"][META_RUN_ID] == run.run_id
    assert s3.get_object(Bucket=ARCHIVE, Key=f"{PROJECT}/gis_data/roads.gpkg")["Body"].read() == GIS_DATA


def refused_before_writing(s3, filer, run: StagedRun) -> Receipt:
    before = set(list_keys(s3, ARCHIVE))
    with pytest.raises(FilerRefusedError) as raised:
        filer.file(run.upload(s3))
    assert raised.value.code == RefusalCode.REUSE_UNAVAILABLE
    assert "send the run again" in raised.value.reason
    # verified before anything was written: no claim, no file, so a re-send may take the timestamp
    assert set(list_keys(s3, ARCHIVE)) == before
    assert claim_key(PROJECT, TS2) not in before
    receipt = Receipt.from_json(
        s3.get_object(Bucket=STAGING, Key=receipt_key(PROJECT, run.run_id))["Body"].read()
    )
    assert receipt.code == RefusalCode.REUSE_UNAVAILABLE
    assert not list_keys(s3, STAGING, f"incoming/{PROJECT}/{run.run_id}/")
    return receipt


def test_source_deleted_from_the_archive_is_refused_and_forgotten(s3, filer):
    first_run(s3, filer)
    s3.delete_object(Bucket=ARCHIVE, Key=f"{PROJECT}/gis_data/{TS1}/roads.gpkg")
    receipt = refused_before_writing(s3, filer, reusing_run())
    assert "no longer in the archive" in receipt.reason
    assert sha(GIS_DATA) not in index_of(s3).entries


def test_source_with_other_content_is_refused(s3, filer):
    first_run(s3, filer)
    key = f"{PROJECT}/gis_data/{TS1}/roads.gpkg"
    s3.put_object(Bucket=ARCHIVE, Key=key, Body=b"x" * len(GIS_DATA), Metadata={META_SHA256: sha(b"x")})
    receipt = refused_before_writing(s3, filer, reusing_run())
    assert "other content" in receipt.reason


def test_source_in_glacier_is_refused(s3, filer):
    first_run(s3, filer)
    key = f"{PROJECT}/gis_data/{TS1}/roads.gpkg"
    # the lifecycle rule's transition, done by hand
    s3.copy_object(Bucket=ARCHIVE, Key=key, CopySource={"Bucket": ARCHIVE, "Key": key},
                   StorageClass="GLACIER")
    receipt = refused_before_writing(s3, filer, reusing_run())
    assert "GLACIER" in receipt.reason


def test_checksum_the_index_does_not_know_is_refused(s3, filer):
    first_run(s3, filer)
    other = b"y" * len(GIS_DATA)
    receipt = refused_before_writing(s3, filer, reusing_run(data=other))
    assert "no earlier copy is known" in receipt.reason


def test_index_entry_pointing_outside_the_project_is_never_followed(s3, filer):
    first_run(s3, filer)
    # Another project's object with the right checksum, and an index entry (forged) naming it.
    foreign = f"OTHER/gis_data/{TS1}/roads.gpkg"
    s3.put_object(Bucket=ARCHIVE, Key=foreign, Body=GIS_DATA, Metadata={META_SHA256: sha(GIS_DATA)})
    raw = s3.get_object(Bucket=STAGING, Key=reuse_index_key(PROJECT))["Body"].read()
    s3.put_object(Bucket=STAGING, Key=reuse_index_key(PROJECT),
                  Body=raw.replace(f"{PROJECT}/gis_data/{TS1}/".encode(), b"OTHER/gis_data/" + TS1.encode()
                                   + b"/"))
    refused_before_writing(s3, filer, reusing_run())


def test_source_of_another_project_by_metadata_is_refused(s3, filer):
    first_run(s3, filer)
    key = f"{PROJECT}/gis_data/{TS1}/roads.gpkg"
    head = s3.head_object(Bucket=ARCHIVE, Key=key)
    s3.copy_object(Bucket=ARCHIVE, Key=key, CopySource={"Bucket": ARCHIVE, "Key": key},
                   MetadataDirective="REPLACE", Metadata={**head["Metadata"], "project-key": "OTHER"})
    receipt = refused_before_writing(s3, filer, reusing_run())
    assert "another project" in receipt.reason


def test_source_vanishing_after_the_check_refuses_the_run_while_filing(s3, filer):
    first_run(s3, filer)
    source = f"{PROJECT}/gis_data/{TS1}/roads.gpkg"

    def delete_after_verify(step: str) -> None:
        if step == "verified":
            s3.delete_object(Bucket=ARCHIVE, Key=source)

    filer.config = type(filer.config)(concurrency=2, on_step=delete_after_verify)
    run = reusing_run()
    with pytest.raises(FilerRefusedError) as raised:
        filer.file(run.upload(s3))
    assert raised.value.code == RefusalCode.REUSE_UNAVAILABLE
    assert not list_keys(s3, ARCHIVE, f"{PROJECT}/_runs/{TS2}/run.json")


def test_handler_ends_a_reuse_refusal_without_a_dead_letter(s3, filer, monkeypatch, lambda_context):
    """The client re-sends by itself, so the message must not reach the dead-letter queue's alarm;
    a redelivery (the refused receipt answers) ends the same way."""
    from artifact_filer import handler as handler_module
    from tests.support.staged import s3_event, sqs_batch

    first_run(s3, filer)
    s3.delete_object(Bucket=ARCHIVE, Key=f"{PROJECT}/gis_data/{TS1}/roads.gpkg")
    monkeypatch.setenv("STAGING_BUCKET", STAGING)
    monkeypatch.setenv("ARCHIVE_BUCKET", ARCHIVE)
    handler_module.reset_filer()
    try:
        run = reusing_run()
        event = sqs_batch([s3_event(STAGING, run.upload(s3))])
        assert handler_module.handler(event, lambda_context) == {"batchItemFailures": []}
        assert handler_module.handler(event, lambda_context) == {"batchItemFailures": []}
        receipt = Receipt.from_json(
            s3.get_object(Bucket=STAGING, Key=receipt_key(PROJECT, run.run_id))["Body"].read()
        )
        assert receipt.code == RefusalCode.REUSE_UNAVAILABLE
        # any other refusal still fails its message
        other = StagedRun(PROJECT, {LOG: b"x"}, timestamp=TS1)
        failed = handler_module.handler(sqs_batch([s3_event(STAGING, other.upload(s3))]), lambda_context)
        assert failed == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    finally:
        handler_module.reset_filer()
