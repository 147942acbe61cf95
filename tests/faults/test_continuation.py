"""A filing spread over many invocations, each with no time to spare, and filers killed while one
hands the filing on. The archive must end exactly as an undisturbed filing of the same run leaves it
(same keys, bytes, metadata, tags, one version each, the same run record), staging clean, its
progress notes gone.

Invocations get no time at all (``timeout_seconds=0``) and one worker thread: each finishes the unit
it started, saves its progress and sends the continuation, so the run takes an invocation per piece
to verify and per unit to file.
"""

from __future__ import annotations

import pytest

from artifact_backup.local import LocalFilerWorker
from artifact_filer import CONTINUATION_STEPS
from artifact_filer import handler as filer_handler
from tests.support.s3 import list_keys

from .support import (
    TS,
    archive_state,
    assert_filed_once,
    backup,
    drain,
    kill_at,
    make_project,
    restage,
    state_diff,
)

#: One request at a time, so an invocation with no time left does a single unit.
ONE_AT_A_TIME = {"concurrency": 1}


@pytest.fixture
def hurried(stack) -> LocalFilerWorker:
    """The event source mapping, but every invocation starts with its time already up."""
    return LocalFilerWorker(stack, handler=filer_handler.handler, wait_seconds=0, retry_delay_seconds=0,
                            timeout_seconds=0)


def assert_as_undisturbed(s3, stack, staged, undisturbed) -> None:
    diff = state_diff(archive_state(s3, stack), undisturbed)
    assert not diff, "\n".join(diff)
    folder, run_id, _ = staged
    assert_filed_once(s3, stack, folder, "P1", TS, run_id)
    assert list_keys(s3, stack.names.staging_bucket, "progress/") == []


def test_a_filing_out_of_time_at_every_unit_ends_as_an_undisturbed_one(
        staged, undisturbed, stack, s3, make_filer, hurried):
    restage(s3, stack, staged[2])
    make_filer(**ONE_AT_A_TIME)

    drained = drain(hurried)

    # One message per invocation: the manifest's notification, then a continuation per pause.
    pieces = sum(1 for k in staged[2] if not k.endswith("/manifest.json"))
    assert drained.received > pieces
    assert drained.failed == 0, "a pause must end its message, not fail it"
    assert_as_undisturbed(s3, stack, staged, undisturbed)


@pytest.mark.parametrize("nth", [1, 3])
@pytest.mark.parametrize("step", CONTINUATION_STEPS)
def test_killed_while_handing_the_filing_on(step, nth, staged, undisturbed, stack, s3, make_filer, hurried):
    """Killed after saving its progress but before the continuation (the message is delivered
    again), or after sending it (two messages for the run, both delivered)."""
    restage(s3, stack, staged[2])
    make_filer(on_step=kill_at(step, nth), **ONE_AT_A_TIME)
    for _ in range(nth):
        outcome = hurried.poll_once()
        if outcome.failed:
            break
    assert outcome.failed == 1, f"the filer was not killed at {step} #{nth}"

    make_filer(**ONE_AT_A_TIME)  # a new container: nothing survives from the dead one
    drain(hurried)
    assert_as_undisturbed(s3, stack, staged, undisturbed)


def test_killed_mid_unit_in_a_continued_invocation(staged, undisturbed, stack, s3, make_filer, hurried):
    """Killed while filing an object, invocations after the one that started the filing: the
    redelivery goes on from the last saved progress and redoes the unit that was cut."""
    restage(s3, stack, staged[2])
    make_filer(on_step=kill_at("object-filed", 2), **ONE_AT_A_TIME)
    outcomes = [hurried.poll_once() for _ in range(12)]
    assert sum(o.failed for o in outcomes) == 1

    make_filer(**ONE_AT_A_TIME)
    drain(hurried)
    assert_as_undisturbed(s3, stack, staged, undisturbed)


def test_a_client_waiting_for_its_receipt_sees_one_filed_run(tmp_path, stack, s3, make_filer, hurried):
    """The whole pipeline, the client's own upload and wait included, with a filer that pauses at
    every unit: the client is told filed once the last invocation has written the record."""
    make_filer(**ONE_AT_A_TIME)
    hurried.start()
    try:
        folder = make_project(tmp_path, "P2", small=20)
        result = backup(tmp_path, stack, folder, "P2")
    finally:
        hurried.stop()
    assert result.ok, result
    assert_filed_once(s3, stack, folder, "P2", TS, result.run_id)
    assert hurried.batches > 5
