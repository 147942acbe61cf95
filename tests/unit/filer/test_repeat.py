"""A run uploaded again exactly as it was: answered as already filed, nothing written, nothing left.

A repeated command (a retry after a timeout, a lost terminal, an orchestrator's second attempt) gets
a new run id; if its files (types, paths, sizes, SHA-256) are those of the run already filed at its
place, the filer answers *filed* and points at that run, instead of refusing ``timestamp-taken``.
"""

from __future__ import annotations

import json

import pytest

from artifact_contract import (
    Claim,
    Receipt,
    RefusalCode,
    claim_key,
    content_sha256,
    receipt_key,
    run_record_key,
)
from artifact_filer import TimestampBusyError, TimestampTakenError
from tests.support.filing import PROJECT, TS, archive_snapshot, assert_refused, sample_files
from tests.support.s3 import list_keys
from tests.support.staged import ARCHIVE, STAGING, StagedRun


def stored_receipt(s3, run: StagedRun) -> Receipt:
    raw = s3.get_object(Bucket=STAGING, Key=receipt_key(PROJECT, run.run_id))["Body"].read()
    return Receipt.from_json(raw)


def assert_answered_already_filed(s3, run: StagedRun, earlier: StagedRun, receipt: Receipt,
                                  first: Receipt) -> None:
    assert receipt.filed
    assert receipt.already_filed
    assert receipt.run_id == run.run_id
    assert receipt.filed_run_id == earlier.run_id
    assert receipt.run_record == first.run_record
    assert set(receipt.prefixes) == set(first.prefixes)
    assert (receipt.files, receipt.bytes) == (first.files, first.bytes)
    assert stored_receipt(s3, run) == receipt
    # Staging is as clean as after any filing: no pieces, no manifest, nothing in quarantine.
    assert list_keys(s3, STAGING, f"incoming/{PROJECT}/{run.run_id}/") == []
    assert list_keys(s3, STAGING, "quarantine/") == []


def test_identical_run_at_a_taken_timestamp_is_already_filed(s3, filer, steps):
    first_run = StagedRun(PROJECT, sample_files(), timestamp=TS)
    first = filer.file(first_run.upload(s3))
    before = archive_snapshot(s3)
    steps.clear()

    again = StagedRun(PROJECT, sample_files(), timestamp=TS)
    receipt = filer.file(again.upload(s3))

    assert_answered_already_filed(s3, again, first_run, receipt, first)
    assert archive_snapshot(s3) == before
    # Decided from the run record: no piece was read, nothing claimed or written.
    assert not {"verified", "claimed", "object-filed", "recorded"} & set(steps)
    # Delivered again, the receipt answers the same.
    assert filer.file(again.manifest_key) == receipt
    assert archive_snapshot(s3) == before


def test_a_run_that_differs_in_one_file_is_still_refused(s3, filer):
    filer.file(StagedRun(PROJECT, sample_files(), timestamp=TS).upload(s3))
    before = archive_snapshot(s3)
    files = sample_files()
    files[("logs", "process_log.txt")] += b"one more line\n"
    other = StagedRun(PROJECT, files, timestamp=TS)
    with pytest.raises(TimestampTakenError) as refused:
        filer.file(other.upload(s3))
    assert_refused(s3, other, refused, RefusalCode.TIMESTAMP_TAKEN)
    assert archive_snapshot(s3) == before


def test_a_run_with_one_file_less_is_still_refused(s3, filer):
    filer.file(StagedRun(PROJECT, sample_files(), timestamp=TS).upload(s3))
    files = sample_files()
    del files[("report", "report.html")]
    with pytest.raises(TimestampTakenError):
        filer.file(StagedRun(PROJECT, files, timestamp=TS).upload(s3))


def _claim_for(s3, holder: StagedRun) -> None:
    holder.build()
    claim = Claim.for_manifest(holder.manifest)
    s3.put_object(Bucket=ARCHIVE, Key=claim_key(PROJECT, TS), Body=claim.to_json())


def test_identical_run_still_being_filed_is_retried_not_refused(s3, filer):
    """Two identical uploads at once: the second meets the first's claim before its record."""
    holder = StagedRun(PROJECT, sample_files(), timestamp=TS)
    _claim_for(s3, holder)
    again = StagedRun(PROJECT, sample_files(), timestamp=TS)
    key = again.upload(s3)
    with pytest.raises(TimestampBusyError):
        filer.file(key)
    # Transient: no receipt, nothing quarantined, the run intact in staging for the next delivery.
    assert receipt_key(PROJECT, again.run_id) not in list_keys(s3, STAGING)
    assert key in list_keys(s3, STAGING)
    assert list_keys(s3, STAGING, "quarantine/") == []

    first = filer.file(holder.upload(s3))  # the holder's own delivery files it
    receipt = filer.file(key)  # the retry
    assert_answered_already_filed(s3, again, holder, receipt, first)


def test_identical_run_whose_claim_holder_was_refused_takes_the_timestamp(s3, filer):
    """A refused holder blocks nothing: an older filer's claim it left behind is passed over."""
    holder = StagedRun(PROJECT, sample_files(), timestamp=TS)
    _claim_for(s3, holder)
    refused = Receipt(run_id=holder.run_id, project_key=PROJECT, status="refused", code="piece-changed",
                      reason="replaced")
    s3.put_object(Bucket=STAGING, Key=receipt_key(PROJECT, holder.run_id), Body=refused.to_json())
    again = StagedRun(PROJECT, sample_files(), timestamp=TS)
    receipt = filer.file(again.upload(s3))
    assert receipt.filed
    assert not receipt.already_filed
    assert receipt.run_record == run_record_key(PROJECT, TS, again.run_id)


def test_claim_carries_the_runs_content():
    run = StagedRun(PROJECT, sample_files(), timestamp=TS)
    run.build()
    claim = Claim.for_manifest(run.manifest)
    assert claim.content_sha256 == content_sha256(run.manifest.files)
    assert Claim.from_json(claim.to_json()) == claim
    # A claim written before the digest existed still reads, and matches nothing.
    old = claim.to_dict()
    del old["content_sha256"]
    assert Claim.from_json(json.dumps(old)).content_sha256 is None


def test_identical_untimestamped_run_is_already_filed(s3, filer, steps):
    files = {("config", "config.yaml"): b"a: 1\n", ("logs", "x.log"): b"x" * 100_000}
    first_run = StagedRun(PROJECT, files, timestamp=None)
    first = filer.file(first_run.upload(s3))
    before = archive_snapshot(s3)
    steps.clear()

    again = StagedRun(PROJECT, dict(files), timestamp=None)
    receipt = filer.file(again.upload(s3))

    assert_answered_already_filed(s3, again, first_run, receipt, first)
    assert receipt.run_record == run_record_key(PROJECT, None, first_run.run_id)
    assert archive_snapshot(s3) == before
    assert "object-filed" not in steps


def test_untimestamped_run_whose_keys_were_overwritten_is_filed_again(s3, filer):
    files = {("config", "config.yaml"): b"a: 1\n", ("logs", "x.log"): b"x"}
    filer.file(StagedRun(PROJECT, files, timestamp=None).upload(s3))
    # Another run has since replaced one of the files.
    filer.file(StagedRun(PROJECT, {("logs", "x.log"): b"y"}, timestamp=None).upload(s3))

    again = StagedRun(PROJECT, dict(files), timestamp=None)
    receipt = filer.file(again.upload(s3))
    assert receipt.filed
    assert not receipt.already_filed
    assert receipt.run_record == run_record_key(PROJECT, None, again.run_id)
    assert s3.get_object(Bucket=ARCHIVE, Key=f"{PROJECT}/logs/x.log")["Body"].read() == b"x"


def test_untimestamped_run_that_differs_is_filed_as_usual(s3, filer):
    filer.file(StagedRun(PROJECT, {("logs", "x.log"): b"x"}, timestamp=None).upload(s3))
    changed = StagedRun(PROJECT, {("logs", "x.log"): b"x2"}, timestamp=None)
    receipt = filer.file(changed.upload(s3))
    assert receipt.filed
    assert not receipt.already_filed
    assert s3.get_object(Bucket=ARCHIVE, Key=f"{PROJECT}/logs/x.log")["Body"].read() == b"x2"
