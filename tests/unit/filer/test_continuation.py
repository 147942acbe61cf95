"""A filing that outlasts its invocation: it pauses between units, keeps its progress in staging and
continues in a fresh invocation, ending with the archive of an undisturbed filing."""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from typing import Any
from urllib.parse import unquote_plus

import pytest
from boto3.s3.transfer import TransferConfig

from artifact_contract import RunRecord, progress_key, receipt_key, run_record_key
from artifact_filer import CONTINUATION_STEPS, Filer, FilerConfig, FilingUnfinishedError
from artifact_filer import handler as filer_handler
from artifact_filer.context import FilingContext
from artifact_filer.continuation import CONTINUATION_FIELD, continuation_body
from artifact_filer.progress import Progress, ProgressState
from tests.support.s3 import list_keys
from tests.support.staged import ARCHIVE, STAGING, StagedRun, sqs_batch

PROJECT = "RMI25320"
TS = "20251030_1430"


def many_pieces() -> dict[tuple[str, str], bytes]:
    """Ten packs (one file each, over the run's small pack size) and two blobs."""
    files = {("logs", f"step_{i:02d}.log"): os.urandom(900) + b"\n" for i in range(10)}
    files[("report", "big_a.html")] = os.urandom(70 * 1024)
    files[("gis_data", "centerline.gdb/a00000009.gdbtable")] = os.urandom(80 * 1024)
    return files


def staged_run(s3: Any, timestamp: str = TS) -> tuple[StagedRun, str]:
    run = StagedRun(PROJECT, many_pieces(), timestamp=timestamp, pack_max_input=1000)
    key = run.upload(s3)
    assert len(run.manifest.pieces) == 12
    return run, key


class RecordingContinuer:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, bucket: str, key: str, invocation: int) -> None:
        self.sent.append(json.loads(continuation_body(bucket, key, invocation, "us-east-1")))


def no_time_left() -> int:
    return 0


def make_filer(s3: Any, steps: list[str], continuer: Any = None, **tuning: Any) -> Filer:
    config = FilerConfig(concurrency=2, on_step=steps.append, **tuning)
    return Filer(s3, staging_bucket=STAGING, archive_bucket=ARCHIVE, config=config, continuer=continuer)


def piece_reads(s3: Any) -> Counter[str]:
    reads: Counter[str] = Counter()

    def count(params: dict[str, Any], **_: Any) -> None:
        if params.get("Bucket") == STAGING and ("/blobs/" in params["Key"] or "/packs/" in params["Key"]):
            reads[params["Key"]] += 1

    s3.meta.events.register("provide-client-params.s3.GetObject", count)
    return reads


def file_until_done(filer: Filer, key: str, limit: int = 40) -> tuple[Any, int]:
    for invocation in range(1, limit + 1):
        receipt = filer.file(key, no_time_left)
        if receipt is not None:
            return receipt, invocation
    raise AssertionError(f"not filed in {limit} invocations")


def assert_filed_exactly(s3: Any, run: StagedRun) -> None:
    expected = {f"{PROJECT}/{t}/{TS}/{p}": data for (t, p), data in run.files.items()}
    record_key = run_record_key(PROJECT, TS, run.run_id)
    stored = [k for k in list_keys(s3, ARCHIVE) if "/_runs/" not in k]
    assert set(stored) == set(expected)
    for key, data in expected.items():
        assert s3.get_object(Bucket=ARCHIVE, Key=key)["Body"].read() == data
    record = RunRecord.from_json(s3.get_object(Bucket=ARCHIVE, Key=record_key)["Body"].read())
    assert {f.key for f in record.files} == set(expected)
    # Staging holds the receipt and the reuse index: pieces, manifest and progress notes are gone.
    assert list_keys(s3, STAGING, "incoming/") == list_keys(s3, STAGING, "progress/") == []
    assert receipt_key(PROJECT, run.run_id) in list_keys(s3, STAGING, "receipts/")


def test_a_filing_out_of_time_continues_until_filed(s3):
    run, key = staged_run(s3)
    steps: list[str] = []
    continuer = RecordingContinuer()
    reads = piece_reads(s3)
    filer = make_filer(s3, steps, continuer)

    receipt, invocations = file_until_done(filer, key)

    assert receipt.filed
    # Two workers with no time left finish what they started, a couple of units an invocation:
    # 12 pieces to verify and 12 to file cannot fit in a few.
    assert invocations > 4
    assert len(continuer.sent) == invocations - 1
    assert steps.count("progress-saved") == steps.count("continued") == invocations - 1
    assert steps.count("recorded") == 1
    assert_filed_exactly(s3, run)
    # Nothing was done twice, however many invocations the filing took: every pack read once to
    # verify it and once to file it, every blob once to verify it (it is copied server-side).
    assert reads == {run.piece_key(p.id): 2 if p.kind == "pack" else 1 for p in run.manifest.pieces}


def test_the_continuation_is_the_manifest_notification(s3):
    run, key = staged_run(s3)
    continuer = RecordingContinuer()
    filer = make_filer(s3, [], continuer)

    assert filer.file(key, no_time_left) is None

    body = continuer.sent[0]
    (record,) = body["Records"]
    assert record["eventName"].startswith("ObjectCreated")
    assert record["s3"]["bucket"]["name"] == STAGING
    assert unquote_plus(record["s3"]["object"]["key"]) == key
    assert body[CONTINUATION_FIELD] == {"invocation": 2}
    saved = ProgressState.from_json(s3.get_object(Bucket=STAGING, Key=progress_key(PROJECT, run.run_id))
                                    ["Body"].read())
    assert saved.verified or saved.filed


def test_the_handler_continues_on_the_queue_and_ends_the_message(s3, monkeypatch, lambda_context):
    """Through the Lambda handler: the paused record succeeds (the queue keeps its receive count for
    failures), and the continuation message it sent files the run when delivered."""
    run, key = staged_run(s3)
    continuer = RecordingContinuer()
    filer = make_filer(s3, [], continuer)
    previous = filer_handler.reset_filer(filer)
    monkeypatch.setattr(lambda_context, "get_remaining_time_in_millis", no_time_left)
    try:
        first = filer_handler.handler(sqs_batch([json.loads(continuation_body(STAGING, key, 1))]),
                                      lambda_context)
        assert first == {"batchItemFailures": []}
        assert len(continuer.sent) == 1
        for _ in range(40):
            if not continuer.sent:
                break
            body = continuer.sent.pop()
            assert filer_handler.handler(sqs_batch([body]), lambda_context) == {"batchItemFailures": []}
    finally:
        filer_handler.reset_filer(previous)
    assert not continuer.sent
    assert_filed_exactly(s3, run)


def test_without_a_queue_the_message_fails_and_its_redelivery_goes_on(s3):
    run, key = staged_run(s3)
    steps: list[str] = []
    filer = make_filer(s3, steps)

    with pytest.raises(FilingUnfinishedError, match="FILER_QUEUE_URL"):
        filer.file(key, no_time_left)
    assert "progress-saved" in steps
    assert "continued" not in steps
    assert s3.get_object(Bucket=STAGING, Key=progress_key(PROJECT, run.run_id))

    assert filer.file(key).filed  # a delivery with time enough finishes it
    assert_filed_exactly(s3, run)


def test_progress_of_another_upload_or_unreadable_is_ignored(s3):
    run, key = staged_run(s3)
    wrong = ProgressState(manifest_etag='"not-this-manifest"', verified={p: '"x"' for p in run.pieces},
                          filed=set(run.pieces))
    s3.put_object(Bucket=STAGING, Key=progress_key(PROJECT, run.run_id), Body=wrong.to_json())

    assert make_filer(s3, []).file(key).filed
    assert_filed_exactly(s3, run)

    again, key = staged_run(s3, "20251030_1431")
    s3.put_object(Bucket=STAGING, Key=progress_key(PROJECT, again.run_id), Body=b"{not json")
    assert make_filer(s3, []).file(key).filed


def test_a_filing_with_time_enough_writes_no_progress(s3):
    run, key = staged_run(s3)
    steps: list[str] = []
    written: list[str] = []
    s3.meta.events.register("provide-client-params.s3.PutObject",
                            lambda params, **_: written.append(params["Key"]))

    receipt = make_filer(s3, steps, RecordingContinuer()).file(key, lambda: 900_000)

    assert receipt.filed
    assert not set(CONTINUATION_STEPS) & set(steps)
    assert progress_key(PROJECT, run.run_id) not in written


def test_a_refused_run_leaves_no_progress(s3):
    run, key = staged_run(s3)
    continuer = RecordingContinuer()
    filer = make_filer(s3, [], continuer)
    assert filer.file(key, no_time_left) is None  # paused, progress saved
    # A piece not yet filed is replaced: the next invocation refuses the run.
    state = ProgressState.from_json(
        s3.get_object(Bucket=STAGING, Key=progress_key(PROJECT, run.run_id))["Body"].read())
    victim = next(p for p in run.pieces if p not in state.filed)
    s3.put_object(Bucket=STAGING, Key=run.piece_key(victim), Body=b"replaced")

    with pytest.raises(Exception, match="replaced|corrupt|not a readable|bytes"):
        file_until_done(filer, key)

    assert list_keys(s3, STAGING, "progress/") == []


def progress_of(s3: Any, run: StagedRun, remaining: Any) -> Progress:
    from artifact_contract import parse_manifest_key

    ctx = FilingContext(client=s3, staging_bucket=STAGING, archive_bucket=ARCHIVE,
                        config=FilerConfig(checkpoint_seconds=1), log=logging.getLogger("test"),
                        transfer=TransferConfig(), key=run.manifest_key,
                        location=parse_manifest_key(run.manifest_key))
    return Progress(ctx, ProgressState(manifest_etag='"m"'), remaining)


def test_progress_is_checkpointed_while_filing_and_never_after_closing(s3):
    run, _ = staged_run(s3)
    key = progress_key(PROJECT, run.run_id)
    progress = progress_of(s3, run, lambda: 900_000)
    progress._saved_at -= 5  # the last save is older than the interval

    progress.mark_filed("packs/a")
    progress.close()  # waits for the checkpoint being written
    saved = ProgressState.from_json(s3.get_object(Bucket=STAGING, Key=key)["Body"].read())
    assert saved.filed == {"packs/a"}

    s3.delete_object(Bucket=STAGING, Key=key)
    progress._saved_at -= 5
    progress.mark_filed("packs/b")
    progress.close()
    assert list_keys(s3, STAGING, "progress/") == []


def test_outside_lambda_a_filing_never_stops_nor_saves(s3):
    run, _ = staged_run(s3)
    progress = progress_of(s3, run, None)
    progress._saved_at -= 5
    progress.mark_filed("packs/a")
    progress.save_quietly()
    progress.close()
    assert not progress.out_of_time()
    assert list_keys(s3, STAGING, "progress/") == []


def test_an_untimestamped_filing_over_many_invocations_records_every_version(s3):
    """The versions earlier invocations wrote are found again, even where another run replaced the
    file before this run's record was written: the record names this run's own copy of every file."""
    files = many_pieces()
    run = StagedRun(PROJECT, dict(files), timestamp=None, pack_max_input=1000)
    key = run.upload(s3)
    filer = make_filer(s3, [], continuer=RecordingContinuer())
    replaced = f"{PROJECT}/logs/step_00.log"
    receipt = None
    for _ in range(40):
        receipt = filer.file(key, no_time_left)
        if receipt is not None:
            break
        meta = s3.head_object(Bucket=ARCHIVE, Key=replaced)["Metadata"] if replaced in list_keys(
            s3, ARCHIVE) else {}
        if meta.get("run-id") == run.run_id:  # filed by this run: another run replaces it now
            s3.put_object(Bucket=ARCHIVE, Key=replaced, Body=b"another run's copy\n",
                          Metadata={"run-id": "e" * 32, "sha256": "0" * 64})
    assert receipt is not None
    assert receipt.filed
    assert s3.get_object(Bucket=ARCHIVE, Key=replaced)["Body"].read() == b"another run's copy\n"
    record = RunRecord.from_json(
        s3.get_object(Bucket=ARCHIVE, Key=run_record_key(PROJECT, None, run.run_id))["Body"].read())
    assert len(record.files) == len(files)
    for f in record.files:
        assert f.version_id, f
        body = s3.get_object(Bucket=ARCHIVE, Key=f.key, VersionId=f.version_id)["Body"].read()
        assert body == files[(f.type, f.path)]
