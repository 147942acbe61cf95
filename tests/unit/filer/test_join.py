"""Uploads sharing a timestamp: disjoint artifact types join it, overlapping ones are refused, and a
claim whose holder was refused or abandoned never blocks the timestamp for good.

Each step of the claim is checked here on moto; tests/integration and tests/faults run the same
cases through the client and the queue.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from artifact_contract import (
    Claim,
    RefusalCode,
    RunRecord,
    archive_key,
    legacy_run_record_key,
    run_record_key,
    type_claim_key,
)
from artifact_filer import (
    Filer,
    FilerConfig,
    FilerRefusedError,
    ManifestRefusedError,
    TimestampTakenError,
    stale,
)
from artifact_filer.stale import HeldClaim, may_take_over
from tests.support.filing import PROJECT, TS, archive_snapshot, assert_refused, sample_files
from tests.support.s3 import list_keys
from tests.support.staged import ARCHIVE, STAGING, StagedRun, sha


def of_types(*types: str) -> dict[tuple[str, str], bytes]:
    return {k: v for k, v in sample_files().items() if k[0] in types}


def read_claim(s3, type_name: str) -> Claim:
    raw = s3.get_object(Bucket=ARCHIVE, Key=type_claim_key(PROJECT, TS, type_name))["Body"].read()
    return Claim.from_json(raw)


def record_of(s3, run: StagedRun) -> RunRecord:
    raw = s3.get_object(Bucket=ARCHIVE, Key=run_record_key(PROJECT, TS, run.run_id))["Body"].read()
    return RunRecord.from_json(raw)


def test_a_disjoint_upload_joins_the_timestamp(s3, filer):
    logs = StagedRun(PROJECT, of_types("logs"), timestamp=TS)
    filer.file(logs.upload(s3))
    report = StagedRun(PROJECT, of_types("report"), timestamp=TS)
    receipt = filer.file(report.upload(s3))

    assert receipt.filed
    assert not receipt.already_filed
    assert receipt.run_record == run_record_key(PROJECT, TS, report.run_id)
    # One folder per type at the one timestamp; each upload its own record and its own claims.
    for run in (logs, report):
        assert {f.key for f in record_of(s3, run).files} == {
            archive_key(PROJECT, t, TS, p) for t, p in run.files}
        for key in (archive_key(PROJECT, t, TS, p) for t, p in run.files):
            assert s3.head_object(Bucket=ARCHIVE, Key=key)["Metadata"]["run-id"] == run.run_id
    assert read_claim(s3, "logs").run_id == logs.run_id
    assert read_claim(s3, "report").run_id == report.run_id


def test_an_overlapping_upload_is_refused_and_gives_its_other_types_back(s3, filer):
    filer.file(StagedRun(PROJECT, of_types("logs"), timestamp=TS).upload(s3))
    before = archive_snapshot(s3)
    # config sorts before logs: it is claimed, then given back when logs is found taken.
    both = StagedRun(PROJECT, of_types("config", "logs"), timestamp=TS)
    with pytest.raises(TimestampTakenError) as refused:
        filer.file(both.upload(s3))
    assert_refused(s3, both, refused, RefusalCode.TIMESTAMP_TAKEN)
    assert "logs" in refused.value.reason
    released = read_claim(s3, "config")
    assert released.run_id == both.run_id
    assert released.released
    # Nothing of the refused run's files was written; only its claim on config, now released.
    after = archive_snapshot(s3)
    assert {k for k in after if k not in before} == {type_claim_key(PROJECT, TS, "config")}
    assert all(after[k] == v for k, v in before.items())

    config = StagedRun(PROJECT, of_types("config"), timestamp=TS)
    assert filer.file(config.upload(s3)).filed
    held = read_claim(s3, "config")
    assert (held.run_id, held.released, held.replaces) == (config.run_id, False, both.run_id)


def test_the_same_upload_again_is_already_filed(s3, filer):
    first = StagedRun(PROJECT, of_types("logs"), timestamp=TS)
    filer.file(first.upload(s3))
    filer.file(StagedRun(PROJECT, of_types("report"), timestamp=TS).upload(s3))
    again = StagedRun(PROJECT, of_types("logs"), timestamp=TS)
    receipt = filer.file(again.upload(s3))
    assert receipt.already_filed
    assert receipt.filed_run_id == first.run_id
    assert receipt.run_record == run_record_key(PROJECT, TS, first.run_id)


def test_a_run_refused_while_filing_frees_its_types_and_leaves_no_block(s3):
    """A blob replaced in staging after verification refuses the run while it files (some packed
    files may be written by then); the next upload at the timestamp takes the released type and
    files every file, replacing whatever the refused run left."""
    files = of_types("report")
    broken = StagedRun(PROJECT, files, timestamp=TS)
    broken.upload(s3)
    blob = next(p for p in broken.manifest.pieces if p.kind == "blob")

    def replace_blob(step: str) -> None:
        if step == "claimed":
            s3.put_object(Bucket=STAGING, Key=broken.piece_key(blob.id), Body=b"replaced")

    racing = Filer(s3, staging_bucket=STAGING, archive_bucket=ARCHIVE,
                   config=FilerConfig(concurrency=4, on_step=replace_blob))
    with pytest.raises(FilerRefusedError) as refused:
        racing.file(broken.manifest_key)
    assert refused.value.code == RefusalCode.PIECE_CHANGED
    assert read_claim(s3, "report").released

    again = StagedRun(PROJECT, files, timestamp=TS)
    assert filer_for(s3).file(again.upload(s3)).filed
    for (t, p), data in files.items():
        got = s3.get_object(Bucket=ARCHIVE, Key=archive_key(PROJECT, t, TS, p))
        assert got["Body"].read() == data
        assert got["Metadata"]["run-id"] == again.run_id


def filer_for(s3) -> Filer:
    return Filer(s3, staging_bucket=STAGING, archive_bucket=ARCHIVE, config=FilerConfig(concurrency=4))


@pytest.mark.parametrize("path", ["report.html", "report_data_RMI25320.json"])
def test_a_file_of_a_recorded_run_is_never_replaced(s3, filer, path):
    """An object under the timestamp written by a run that has a record is a conflict, not a
    leftover: neither a packed file's put nor a blob's copy (moto ignores a copy's IfNoneMatch; the
    filer's HEAD before the copy keeps it from copying over the object) replaces it."""
    logs = StagedRun(PROJECT, of_types("logs"), timestamp=TS)
    filer.file(logs.upload(s3))
    key = archive_key(PROJECT, "report", TS, path)
    s3.put_object(Bucket=ARCHIVE, Key=key, Body=b"x",
                  Metadata={"run-id": logs.run_id, "sha256": sha(b"x"), "run-timestamp": TS})
    report = StagedRun(PROJECT, of_types("report"), timestamp=TS)
    with pytest.raises(FilerRefusedError) as refused:
        filer.file(report.upload(s3))
    assert refused.value.code == RefusalCode.ARCHIVE_CONFLICT
    assert s3.get_object(Bucket=ARCHIVE, Key=key)["Body"].read() == b"x"


def _abandoned(s3, run_id: str, types: tuple[str, ...]) -> None:
    for t in types:
        claim = Claim(run_id, PROJECT, TS, "2025-10-30T14:30:00Z", "0" * 64, types)
        s3.put_object(Bucket=ARCHIVE, Key=type_claim_key(PROJECT, TS, t), Body=claim.to_json())


def test_a_stale_claim_is_taken_over_only_past_the_bound(s3, filer, monkeypatch):
    _abandoned(s3, "a" * 32, ("logs",))
    run = StagedRun(PROJECT, of_types("logs"), timestamp=TS)
    with pytest.raises(TimestampTakenError):
        filer.file(run.upload(s3))  # a claim minutes old may belong to a slow filer
    assert read_claim(s3, "logs").run_id == "a" * 32

    bound = FilerConfig().claim_stale_seconds
    later = datetime.now(UTC) + timedelta(seconds=bound + 60)
    monkeypatch.setattr(stale, "now", lambda: later)
    again = StagedRun(PROJECT, of_types("logs"), timestamp=TS)
    assert filer.file(again.upload(s3)).filed
    taken = read_claim(s3, "logs")
    assert (taken.run_id, taken.replaces) == (again.run_id, "a" * 32)


def test_a_stale_claim_with_a_live_manifest_or_a_record_is_kept(s3, filer):
    holder = StagedRun(PROJECT, of_types("logs"), timestamp=TS)
    holder.upload(s3)  # committed, waiting for the filer: its manifest is live
    claim = Claim(holder.run_id, PROJECT, TS, "")
    s3.put_object(Bucket=ARCHIVE, Key=type_claim_key(PROJECT, TS, "logs"), Body=claim.to_json())

    class Ctx:
        staging_bucket, archive_bucket, client = STAGING, ARCHIVE, s3
        config = FilerConfig(claim_stale_seconds=1)

    old = datetime.now(UTC) - timedelta(days=1)
    assert not may_take_over(Ctx(), HeldClaim(claim, "e", old), TS)
    s3.delete_object(Bucket=STAGING, Key=holder.manifest_key)
    assert may_take_over(Ctx(), HeldClaim(claim, "e", old), TS)
    record = RunRecord(holder.run_id, PROJECT, TS, ARCHIVE, "", ())
    s3.put_object(Bucket=ARCHIVE, Key=legacy_run_record_key(PROJECT, TS), Body=record.to_json())
    assert not may_take_over(Ctx(), HeldClaim(claim, "e", old), TS)


def test_an_older_filers_whole_timestamp_claim_holds_its_records_types(s3, filer):
    """``_runs/{ts}/claim.json`` and ``run.json`` of an older filer: its types stay its own, others join."""
    old = StagedRun(PROJECT, of_types("logs"), timestamp=TS)
    record = RunRecord(old.run_id, PROJECT, TS, ARCHIVE, "2025-10-30T14:30:00Z", ())
    s3.put_object(Bucket=ARCHIVE, Key=f"{PROJECT}/_runs/{TS}/claim.json",
                  Body=Claim(old.run_id, PROJECT, TS, "").to_json())
    filed = {"type": "logs", "path": "x.log", "key": f"{PROJECT}/logs/{TS}/x.log", "size": 1,
             "sha256": "0" * 64}
    body = record.to_dict() | {"files": [filed]}
    s3.put_object(Bucket=ARCHIVE, Key=legacy_run_record_key(PROJECT, TS), Body=json.dumps(body).encode())
    with pytest.raises(TimestampTakenError):
        filer.file(StagedRun(PROJECT, of_types("logs"), timestamp=TS).upload(s3))
    assert filer.file(StagedRun(PROJECT, of_types("report"), timestamp=TS).upload(s3)).filed


def test_a_released_claim_stops_its_runs_record(s3, filer):
    """A delivery that finds its run's claim released (refused by another delivery) writes no record."""
    run = StagedRun(PROJECT, of_types("logs"), timestamp=TS)
    key = run.upload(s3)

    def release_on_filed(step: str) -> None:
        if step == "filed":
            claim = read_claim(s3, "logs")
            s3.put_object(Bucket=ARCHIVE, Key=type_claim_key(PROJECT, TS, "logs"),
                          Body=Claim(claim.run_id, PROJECT, TS, "", released=True).to_json())

    racing = Filer(s3, staging_bucket=STAGING, archive_bucket=ARCHIVE,
                   config=FilerConfig(concurrency=4, on_step=release_on_filed))
    with pytest.raises(TimestampTakenError):
        racing.file(key)
    assert not list_keys(s3, ARCHIVE, run_record_key(PROJECT, TS, run.run_id))

    # Every file it wrote is a leftover no record names: the next upload replaces each, on its ETag.
    left = {k: s3.head_object(Bucket=ARCHIVE, Key=k)["ETag"]
            for k in list_keys(s3, ARCHIVE, f"{PROJECT}/logs/")}
    assert len(left) == len(run.files)
    again = StagedRun(PROJECT, {k: v + b"again\n" for k, v in run.files.items()}, timestamp=TS)
    assert filer.file(again.upload(s3)).filed
    for (t, p), data in again.files.items():
        key_ = archive_key(PROJECT, t, TS, p)
        got = s3.get_object(Bucket=ARCHIVE, Key=key_)
        assert got["Body"].read() == data
        assert got["Metadata"]["run-id"] == again.run_id
        assert got["ETag"] != left[key_]


def test_the_filer_refuses_an_untimestamped_path_in_a_timestamp_folder(s3, filer):
    """A client that skipped its own check (an older one, or none): the filer refuses the run."""
    run = StagedRun(PROJECT, {("config", "20251030_1430/settings.yaml"): b"a: 1\n"})
    # Built stamped (the client's builder checks the path too), then sent without the timestamp.
    doc = json.loads(run.build().to_json())
    doc["timestamp"] = None
    with pytest.raises(ManifestRefusedError) as refused:
        filer.file(run.upload(s3, manifest=json.dumps(doc).encode()))
    assert refused.value.code == RefusalCode.PATH_RESERVED
    assert "20251030_1430" in refused.value.reason
    assert list_keys(s3, ARCHIVE) == []
