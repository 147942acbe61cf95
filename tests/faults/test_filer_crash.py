"""A filer that dies anywhere: after every step that touches S3, midway through filing the objects
and midway through the staging clean-up. The queue delivers the message again to a new filer (as a
new Lambda container would get it), and the archive must end exactly as an undisturbed filing of the
same run leaves it: same keys, bytes, metadata, tags, content types, one version each, the same run
record byte for byte, staging clean, the same receipt.

The run is real (the client's own packs, a shared blob and a multipart blob copied in parts); it is
staged once per module and put back into staging, byte-identical, before every case.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from artifact_contract import manifest_key, staging_run_prefix
from artifact_filer import STEPS
from tests.support.local import reset_stack
from tests.support.s3 import list_keys

from .support import (
    INJECTED,
    archive_state,
    assert_filed_once,
    backup,
    drain,
    make_project,
    restage,
    staging_objects,
    state_diff,
)

TS = "20251030_1200"


class FilerKilled(Exception):
    """The filer's process ending mid-way, as far as the handler and the queue can tell."""


@pytest.fixture(scope="module")
def staged(server, tmp_path_factory) -> tuple[Path, str, dict[str, bytes]]:
    """One run as the client stages it: its folder, run id and staging objects."""
    where = tmp_path_factory.mktemp("crash")
    stack = reset_stack(server.endpoint_url)
    folder = make_project(where)
    result = backup(where, stack, folder, "P1", wait=False)
    objects = staging_objects(stack.client("s3"), stack)
    assert manifest_key("P1", result.run_id) in objects
    return folder, result.run_id, objects


_reference: dict[str, Any] = {}


@pytest.fixture
def undisturbed(staged, stack, s3, make_filer, worker) -> dict[str, Any]:
    """The archive state an undisturbed filing of the staged run leaves (computed once)."""
    if "state" not in _reference:
        restage(s3, stack, staged[2])
        make_filer()
        drain(worker)
        _reference["state"] = archive_state(s3, stack)
        reset_stack(stack.endpoint_url)
    return _reference["state"]


def kill_at(step: str, nth: int = 1, before: Callable[[], None] | None = None) -> Callable[[str], None]:
    seen = {"n": 0}

    def hook(name: str) -> None:
        if name != step:
            return
        seen["n"] += 1
        if seen["n"] == nth:
            if before is not None:
                before()
            INJECTED["filers killed"] += 1
            raise FilerKilled(f"killed after {step} #{nth}")

    return hook


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
