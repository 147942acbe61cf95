"""Untimestamped runs: their keys hold the latest copy, their records name the versions they wrote, and
an archive without versioning is never overwritten."""

from __future__ import annotations

import pytest

from artifact_contract import Receipt, RefusalCode, RunRecord, receipt_key, run_record_key
from artifact_filer import Filer, FilerConfig, FilerRefusedError
from artifact_filer import versions as versions_step
from tests.support.s3 import list_keys
from tests.support.staged import ARCHIVE, STAGING, StagedRun

PROJECT = "RMI25320"
MiB = 1024 * 1024

FIRST = {
    ("config", "settings.json"): b'{"sigma": 1.0}\n',
    ("config", "config.yaml"): b"project: RMI25320\n",
    # Above StagedRun's 64 KiB pack threshold: a blob, copied server-side.
    ("logs", "big.log"): b"line\n" * 20_000,
}
SECOND = {**FIRST, ("config", "settings.json"): b'{"sigma": 2.0}\n'}


def record_of(s3, run: StagedRun) -> RunRecord:
    raw = s3.get_object(Bucket=ARCHIVE, Key=run_record_key(PROJECT, None, run.run_id))["Body"].read()
    return RunRecord.from_json(raw)


def read_version(s3, key: str, version_id: str) -> bytes:
    return s3.get_object(Bucket=ARCHIVE, Key=key, VersionId=version_id)["Body"].read()


def file_run(s3, filer, files) -> StagedRun:
    run = StagedRun(PROJECT, dict(files), timestamp=None)
    receipt = filer.file(run.upload(s3))
    assert receipt is not None
    assert receipt.filed
    assert not receipt.already_filed
    return run


def archive_versions(s3) -> set[tuple[str, str]]:
    found = set()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=ARCHIVE):
        found |= {(v["Key"], v["VersionId"]) for v in page.get("Versions", [])}
    return found


def test_the_record_names_the_version_of_each_file_written(s3, filer):
    run = file_run(s3, filer, FIRST)
    record = record_of(s3, run)
    assert {f.path for f in record.files} == {p for _, p in FIRST}
    for f in record.files:
        assert f.version_id, f
        assert s3.head_object(Bucket=ARCHIVE, Key=f.key)["VersionId"] == f.version_id
        assert read_version(s3, f.key, f.version_id) == FIRST[(f.type, f.path)]


def test_a_later_run_keeps_the_latest_copy_and_the_earlier_record_its_own(s3, filer):
    first = file_run(s3, filer, FIRST)
    second = file_run(s3, filer, SECOND)
    old, new = record_of(s3, first), record_of(s3, second)
    key = f"{PROJECT}/config/settings.json"
    old_file = next(f for f in old.files if f.key == key)
    new_file = next(f for f in new.files if f.key == key)
    assert old_file.version_id != new_file.version_id
    assert s3.get_object(Bucket=ARCHIVE, Key=key)["Body"].read() == SECOND[("config", "settings.json")]
    assert read_version(s3, key, old_file.version_id) == FIRST[("config", "settings.json")]
    assert read_version(s3, key, new_file.version_id) == SECOND[("config", "settings.json")]
    # Unchanged files were written again too: each record names a version holding its bytes.
    for record, files in ((old, FIRST), (new, SECOND)):
        for f in record.files:
            assert read_version(s3, f.key, f.version_id) == files[(f.type, f.path)]


def test_a_blob_copied_in_parts_records_the_version_its_completion_wrote(s3):
    config = FilerConfig(concurrency=4, multipart_copy_threshold_bytes=5 * MiB,
                         multipart_copy_chunk_bytes=5 * MiB)
    filer = Filer(s3, staging_bucket=STAGING, archive_bucket=ARCHIVE, config=config)
    data = bytes(range(256)) * (6 * MiB // 256 + 1)
    run = file_run(s3, filer, {("gis_data", "area.shp"): data})
    (f,) = record_of(s3, run).files
    assert f.version_id
    assert read_version(s3, f.key, f.version_id) == data


def test_versions_of_files_an_earlier_invocation_filed_are_found_again(s3, filer, monkeypatch):
    """A long filing's record is written by the invocation that files the last unit; the versions
    earlier invocations were answered are looked up, even once another run has replaced a key."""
    monkeypatch.setattr(versions_step.WrittenVersions, "note", lambda self, key, answer: None)
    run = StagedRun(PROJECT, dict(FIRST), timestamp=None)
    key = f"{PROJECT}/config/settings.json"

    def replaced_by_another_run(step: str) -> None:
        if step == "filed":
            s3.put_object(Bucket=ARCHIVE, Key=key, Body=b"another run's copy",
                          Metadata={"run-id": "f" * 32, "sha256": "0" * 64})

    filer.config = FilerConfig(concurrency=4, on_step=replaced_by_another_run)
    assert filer.file(run.upload(s3)).filed
    for f in record_of(s3, run).files:
        assert f.version_id
        assert read_version(s3, f.key, f.version_id) == FIRST[(f.type, f.path)]


def test_old_records_without_version_ids_still_read():
    record = RunRecord.from_json(
        '{"schema": "artifact-backup.run", "run_id": "' + "a" * 32 + '", "files": [{"type": "logs", '
        '"path": "x.log", "key": "P/logs/x.log", "size": 1, "sha256": "' + "0" * 64 + '"}]}'
    )
    (f,) = record.files
    assert f.version_id is None
    assert f.version_args() == {}
    assert "version_id" not in f.to_dict()


# -- an archive without versioning ------------------------------------------------------------------


@pytest.fixture
def unversioned_filer(unversioned_s3) -> Filer:
    return Filer(unversioned_s3, staging_bucket=STAGING, archive_bucket=ARCHIVE,
                 config=FilerConfig(concurrency=4))


def test_without_versioning_a_run_that_would_replace_a_file_is_refused_before_writing(
    unversioned_s3, unversioned_filer
):
    s3 = unversioned_s3
    first = file_run(s3, unversioned_filer, FIRST)
    assert all(f.version_id is None for f in record_of(s3, first).files)
    before = archive_versions(s3)

    second = StagedRun(PROJECT, dict(SECOND), timestamp=None)
    with pytest.raises(FilerRefusedError) as refused:
        unversioned_filer.file(second.upload(s3))

    assert refused.value.code == RefusalCode.ARCHIVE_UNVERSIONED == "archive-unversioned"
    assert archive_versions(s3) == before
    assert s3.get_object(Bucket=ARCHIVE, Key=f"{PROJECT}/config/settings.json")["Body"].read() == (
        FIRST[("config", "settings.json")])
    receipt = Receipt.from_json(
        s3.get_object(Bucket=STAGING, Key=receipt_key(PROJECT, second.run_id))["Body"].read())
    assert receipt.code == "archive-unversioned"
    assert "enable versioning on the archive bucket" in (receipt.reason or "")
    assert f"{PROJECT}/config/settings.json" in (receipt.reason or "")
    assert run_record_key(PROJECT, None, second.run_id) not in list_keys(s3, ARCHIVE)


def test_suspended_versioning_is_no_versioning(unversioned_s3, unversioned_filer):
    s3 = unversioned_s3
    file_run(s3, unversioned_filer, FIRST)
    s3.put_bucket_versioning(Bucket=ARCHIVE, VersioningConfiguration={"Status": "Suspended"})
    with pytest.raises(FilerRefusedError) as refused:
        unversioned_filer.file(StagedRun(PROJECT, dict(SECOND), timestamp=None).upload(s3))
    assert refused.value.code == RefusalCode.ARCHIVE_UNVERSIONED


def test_without_versioning_a_redelivered_run_finishes_over_its_own_objects(unversioned_s3, monkeypatch):
    """A filer killed after writing its files: they are this run's, no conflict; and every write
    of the run's keys is conditional, so none is replaced."""
    s3 = unversioned_s3
    killed = []
    writes: list[dict] = []
    for name in ("put_object", "copy_object"):
        original = getattr(s3, name)

        def spy(*args, _original=original, **kwargs):
            if kwargs.get("Bucket") == ARCHIVE and "/_runs/" not in kwargs.get("Key", ""):
                writes.append(kwargs)
            return _original(*args, **kwargs)

        monkeypatch.setattr(s3, name, spy)

    def die_once(step: str) -> None:
        if step == "filed" and not killed:
            killed.append(step)
            raise RuntimeError("killed")

    filer = Filer(s3, staging_bucket=STAGING, archive_bucket=ARCHIVE,
                  config=FilerConfig(concurrency=4, on_step=die_once))
    run = StagedRun(PROJECT, dict(FIRST), timestamp=None)
    key = run.upload(s3)
    with pytest.raises(RuntimeError):
        filer.file(key)
    assert {k for k, _ in archive_versions(s3)} == {f"{PROJECT}/{t}/{p}" for t, p in FIRST}

    first_copies = sum("CopySource" in w for w in writes)
    assert filer.file(key).filed
    # Every put is tried again and meets its 412; a copy is found done by a HEAD and not repeated.
    assert len(writes) == 2 * len(FIRST) - first_copies
    assert first_copies >= 1
    assert all(w.get("IfNoneMatch") == "*" for w in writes)
    for (t, p), data in FIRST.items():
        assert s3.get_object(Bucket=ARCHIVE, Key=f"{PROJECT}/{t}/{p}")["Body"].read() == data


def test_an_unversioned_archive_still_takes_runs_that_replace_nothing(unversioned_s3, unversioned_filer):
    s3 = unversioned_s3
    file_run(s3, unversioned_filer, {("logs", "a.log"): b"a"})
    run = file_run(s3, unversioned_filer, {("logs", "b.log"): b"b"})
    assert s3.get_object(Bucket=ARCHIVE, Key=f"{PROJECT}/logs/b.log")["Body"].read() == b"b"
    assert record_of(s3, run).files[0].version_id is None
