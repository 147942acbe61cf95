"""At-least-once delivery: the same manifest event twice (after filing, in one batch, to two filers
at the same moment), events out of order, and a batch in which one message fails (only that one is
delivered again). Each ends with every file filed once.
"""

from __future__ import annotations

import functools
import json
import threading
from typing import Any
from urllib.parse import unquote_plus

from artifact_backup.local import LocalFilerWorker
from artifact_contract import manifest_key
from artifact_filer import handler as filer_handler

from .support import (
    archive_state,
    assert_filed_once,
    backup,
    drain,
    make_project,
    side_by_side,
    state_diff,
)

TS = "20251030_1200"
STAGING = "rmi-360-raw-staging"


def manifest_events(stack: Any) -> list[str]:
    """Take every manifest notification off the queue (the S3 test event is dropped)."""
    sqs = stack.client("sqs")
    bodies: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return bodies
        for m in messages:
            if "manifest.json" in m["Body"]:
                bodies.append(m["Body"])
            sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=m["ReceiptHandle"])


def send(stack: Any, *bodies: str) -> None:
    sqs = stack.client("sqs")
    for body in bodies:
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body)


def test_event_delivered_again_after_filing_changes_nothing(tmp_path, stack, s3, make_filer, worker):
    make_filer()
    folder = make_project(tmp_path)
    result = backup(tmp_path, stack, folder, "P1", wait=False)
    (event,) = manifest_events(stack)
    send(stack, event)
    assert drain(worker).failed == 0
    filed = archive_state(s3, stack)
    send(stack, event, event)
    again = drain(worker)
    assert (again.received, again.failed) == (2, 0)
    assert state_diff(archive_state(s3, stack), filed) == []
    assert_filed_once(s3, stack, folder, "P1", TS, result.run_id)


def test_event_twice_in_one_batch(tmp_path, stack, s3, make_filer, worker):
    make_filer()
    folder = make_project(tmp_path)
    result = backup(tmp_path, stack, folder, "P1", wait=False)
    (event,) = manifest_events(stack)
    send(stack, event, event, event)
    drained = drain(worker)
    assert drained.failed == 0
    assert drained.batches == 1
    assert_filed_once(s3, stack, folder, "P1", TS, result.run_id)


def test_same_manifest_filed_by_two_filers_at_once(tmp_path, stack, s3, make_filer, worker):
    """Two containers get the same message at the same moment; both reach every step together."""
    folder = make_project(tmp_path)
    result = backup(tmp_path, stack, folder, "P1", wait=False)
    manifest_events(stack)
    together = threading.Barrier(2, timeout=30)

    def in_step(name: str) -> None:
        if name in ("verified", "claimed", "filed", "recorded", "cleaned"):
            together.wait()

    filers = [make_filer(on_step=in_step, install=False) for _ in range(2)]
    key = manifest_key("P1", result.run_id)
    # Any exception is reported below (a transient failure would be redelivered).
    outcomes = side_by_side(*(functools.partial(f.file, key) for f in filers), timeout=60)
    assert [getattr(o, "status", o) for o in outcomes] == ["filed", "filed"]
    assert_filed_once(s3, stack, folder, "P1", TS, result.run_id)


def test_events_out_of_order(tmp_path, stack, s3, make_filer, worker):
    """Three runs of a project committed in one order, their events delivered in reverse, then the
    oldest one's event again after every staging object of it is gone."""
    make_filer()
    runs = []
    for i, stamp in enumerate(("20251030_1200", "20251030_1201", "20251030_1202")):
        where = tmp_path / f"r{i}"
        where.mkdir()
        folder = make_project(where, seed=f"run{i}", large=i == 0)
        runs.append((folder, stamp, backup(where, stack, folder, "P1", wait=False, timestamp=stamp)))
    events = manifest_events(stack)
    assert len(events) == 3
    send(stack, *reversed(events))
    assert drain(worker).failed == 0
    send(stack, events[0])
    assert drain(worker).failed == 0
    for folder, stamp, result in runs:
        types = ("logs", "gis_data") if (folder / "gis_data").exists() else ("logs",)
        assert_filed_once(s3, stack, folder, "P1", stamp, result.run_id, types)


def test_one_failing_message_is_the_only_one_delivered_again(tmp_path, stack, s3, filer_proxy,
                                                             make_filer):
    make_filer()
    runs = {}
    for project in ("P1", "P2", "P3"):
        where = tmp_path / project
        where.mkdir()
        folder = make_project(where, project, large=False)
        runs[project] = (folder, backup(where, stack, folder, project, wait=False, include=["logs"]))
    # P2's pieces cannot be read on this delivery: beyond the filer's retries.
    outage = filer_proxy.inject("500", rf"^GET /{STAGING}/incoming/P2/.*/packs/", times=None)
    deliveries: list[str] = []

    def counting(event: dict[str, Any], context: Any) -> Any:
        for record in event["Records"]:
            body = json.loads(record["body"])
            deliveries.extend(unquote_plus(r["s3"]["object"]["key"]).split("/")[1]
                              for r in body.get("Records", []))
        return filer_handler.handler(event, context)

    worker = LocalFilerWorker(stack, handler=counting, wait_seconds=0, retry_delay_seconds=0)
    first = worker.poll_once()
    assert first.failed == 1
    assert outage.hits > 0
    filer_proxy.clear()
    drain(worker)
    assert sorted(deliveries) == ["P1", "P2", "P2", "P3"]
    for project, (folder, result) in runs.items():
        assert_filed_once(s3, stack, folder, project, TS, result.run_id, ("logs",))
