"""A filer killed after any step of the protocol, then given the message again, ends as if undisturbed."""

from __future__ import annotations

import pytest

from artifact_contract import (
    META_RUN_ID,
    RefusalCode,
    receipt_key,
    reuse_index_key,
    run_record_key,
)
from artifact_filer import STEPS, RunRefusedError
from tests.support.filing import PROJECT, TS, assert_refused, claim_keys, sample_files
from tests.support.s3 import list_keys
from tests.support.staged import ARCHIVE, STAGING, StagedRun


class Killed(Exception):
    pass


def _kill_at(step: str, nth: int = 1):
    seen = []

    def hook(name: str) -> None:
        seen.append(name)
        if name == step and seen.count(step) == nth:
            raise Killed(step)

    return hook


@pytest.mark.parametrize("step", STEPS)
def test_killed_after_any_step_then_redelivered_ends_as_undisturbed(s3, filer, step):
    run = StagedRun(PROJECT, sample_files(), timestamp=TS)
    key = run.upload(s3)
    filer.config = type(filer.config)(concurrency=2, on_step=_kill_at(step, nth=2 if step == "object-filed"
                                                                       else 1))
    with pytest.raises(Killed):
        filer.file(key)

    filer.config = type(filer.config)(concurrency=8)
    receipt = filer.file(key)
    assert receipt is not None
    assert receipt.filed
    assert receipt.files == len(run.files)
    expected = {f"{PROJECT}/{t}/{TS}/{p}": d for (t, p), d in run.files.items()}
    assert set(list_keys(s3, ARCHIVE)) == set(expected) | {run_record_key(PROJECT, TS, run.run_id),
                                                            *claim_keys(run)}
    for k, data in expected.items():
        assert s3.get_object(Bucket=ARCHIVE, Key=k)["Body"].read() == data
        assert s3.head_object(Bucket=ARCHIVE, Key=k)["Metadata"][META_RUN_ID] == run.run_id
    assert list_keys(s3, STAGING) == [reuse_index_key(PROJECT), receipt_key(PROJECT, run.run_id)]


@pytest.mark.parametrize("step", ["refusal-receipted", "quarantined"])
def test_killed_while_refusing_then_redelivered_finishes_the_refusal(s3, filer, step):
    run = StagedRun(PROJECT, sample_files())
    run.build()
    blob = next(p.id for p in run.manifest.pieces if p.kind == "blob")
    key = run.upload(s3, skip=[blob])
    filer.config = type(filer.config)(concurrency=2, on_step=_kill_at(step))
    with pytest.raises(Killed):
        filer.file(key)

    filer.config = type(filer.config)(concurrency=2)
    with pytest.raises(RunRefusedError) as exc_info:
        filer.file(key)
    assert_refused(s3, run, exc_info, RefusalCode.PIECE_MISSING)
    assert list_keys(s3, ARCHIVE) == []
