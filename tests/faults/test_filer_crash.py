"""A filer that dies anywhere: after every step that touches S3, midway through filing the objects
and midway through the staging clean-up. The queue delivers the message again to a new filer (as a
new Lambda container would get it), and the archive must end exactly as an undisturbed filing of the
same run leaves it: same keys, bytes, metadata, tags, content types, one version each, the same run
record byte for byte, staging clean, the same receipt.

The run is real (the client's own packs, a shared blob and a multipart blob copied in parts); it is
staged once per module and put back into staging, byte-identical, before every case.
"""

from __future__ import annotations

import pytest

from artifact_contract import staging_run_prefix
from artifact_filer import STEPS
from tests.support.s3 import list_keys

from .support import TS, archive_state, assert_filed_once, drain, kill_at, restage, state_diff


def _crash_then_redeliver(staged, stack, s3, make_filer, worker, hook) -> None:
    restage(s3, stack, staged[2])
    make_filer(on_step=hook)
    first = worker.poll_once()
    assert first.failed == 1, "the killed filing must fail its SQS record so that it is delivered again"
    make_filer()  # a new container: nothing survives from the dead one
    drain(worker)


@pytest.mark.parametrize("step", STEPS)
def test_killed_after_step_then_redelivered(step, staged, undisturbed, stack, s3, make_filer, worker):
    _crash_then_redeliver(staged, stack, s3, make_filer, worker, kill_at(step))
    diff = state_diff(archive_state(s3, stack), undisturbed)
    assert not diff, "\n".join(diff)
    folder, run_id, _ = staged
    assert_filed_once(s3, stack, folder, "P1", TS, run_id)


def test_killed_midway_through_filing_objects(staged, undisturbed, stack, s3, make_filer, worker):
    total = sum(1 for k in undisturbed["archive"] if "/_runs/" not in k)
    _crash_then_redeliver(staged, stack, s3, make_filer, worker, kill_at("object-filed", total // 2))
    diff = state_diff(archive_state(s3, stack), undisturbed)
    assert not diff, "\n".join(diff)


def test_killed_midway_through_cleaning_staging(staged, undisturbed, stack, s3, make_filer, worker):
    folder, run_id, objects = staged
    pieces = sorted(k for k in objects if not k.endswith("/manifest.json"))

    def half_cleaned() -> None:
        # What the clean-up had done when the filer died: half of the run's pieces deleted.
        for key in pieces[: len(pieces) // 2]:
            s3.delete_object(Bucket=stack.names.staging_bucket, Key=key)

    _crash_then_redeliver(staged, stack, s3, make_filer, worker, kill_at("recorded", before=half_cleaned))
    diff = state_diff(archive_state(s3, stack), undisturbed)
    assert not diff, "\n".join(diff)
    assert list_keys(s3, stack.names.staging_bucket, staging_run_prefix("P1", run_id)) == []


@pytest.mark.parametrize("step", ["claimed", "recorded"])
def test_killed_twice_in_a_row_still_ends_filed(step, staged, undisturbed, stack, s3, make_filer, worker):
    """Two deaths, at the step and at the next one: the third delivery still finishes the run (the
    queue allows three)."""
    following = STEPS[min(STEPS.index(step) + 1, len(STEPS) - 1)]
    restage(s3, stack, staged[2])
    for hook in (kill_at(step), kill_at(following)):
        make_filer(on_step=hook)
        worker.poll_once()
    make_filer()
    drain(worker)
    diff = state_diff(archive_state(s3, stack), undisturbed)
    assert not diff, "\n".join(diff)
