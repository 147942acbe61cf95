"""Two runs at once: two different runs of one project stamped with the same minute, one after the
other and at the same moment. The outcome is always the same: one run is filed, the other refused
with ``timestamp-taken`` and told what to do, and nothing of either is lost (the refused run's files
are still on disk and what it sent is in quarantine). The same run uploaded twice is filed once, and
uploaded again once filed is answered as already filed.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest

from artifact_backup.exceptions import ReceiptTimeoutError, RunRefusedError
from artifact_contract import archive_key, run_record_key
from tests.support.s3 import list_keys

from .support import (
    assert_filed_once,
    backup,
    drain,
    local_files,
    make_project,
    read_receipt,
    side_by_side,
)

TS = "20251030_1200"
STAGING = "rmi-360-raw-staging"
ARCHIVE = "rmi-360-raw"


def fingerprint(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def two_runs(tmp_path: Path) -> list[tuple[Path, Path]]:
    runs = []
    for name in ("a", "b"):
        where = tmp_path / name
        where.mkdir()
        runs.append((where, make_project(where, seed=name)))
    return runs


def assert_refused_and_kept(s3: Any, stack: Any, error: RunRefusedError, folder: Path,
                            before: dict[str, str]) -> None:
    """Refused with the code and a hint that says what to do; its files and pieces all kept."""
    receipt = error.receipt
    assert receipt.code == "timestamp-taken"
    assert error.hint is not None
    assert "--custom-timestamp" in error.hint
    assert f"quarantine/P1/{receipt.run_id}/" in error.hint
    assert fingerprint(folder) == before
    quarantined = list_keys(s3, STAGING, f"quarantine/P1/{receipt.run_id}/")
    assert any(k.endswith("/manifest.json") for k in quarantined)
    assert len(quarantined) >= 3
    assert list_keys(s3, STAGING, f"incoming/P1/{receipt.run_id}/") == []
    # Nothing in the archive was written by the refused run.
    for (type_name, rel), _ in local_files(folder).items():
        key = archive_key("P1", type_name, TS, rel)
        head = s3.head_object(Bucket=ARCHIVE, Key=key)
        assert head["Metadata"]["run-id"] != receipt.run_id


def test_second_run_in_the_same_minute_is_refused_and_kept(tmp_path, stack, s3, make_filer,
                                                           running_worker):
    make_filer()
    (where_a, folder_a), (where_b, folder_b) = two_runs(tmp_path)
    first = backup(where_a, stack, folder_a, "P1")
    assert first.status == "filed"
    before = fingerprint(folder_b)
    with pytest.raises(RunRefusedError) as refused:
        backup(where_b, stack, folder_b, "P1")
    # The receipt comes before the move to quarantine (a redelivery finishes the move, and could
    # not find the run again the other way round): let the filer finish the message first.
    running_worker.stop()
    assert_refused_and_kept(s3, stack, refused.value, folder_b, before)
    assert_filed_once(s3, stack, folder_a, "P1", TS, first.run_id)


def test_two_runs_in_the_same_minute_at_once(tmp_path, stack, s3, make_filer, running_worker):
    make_filer()
    runs = two_runs(tmp_path)
    before = [fingerprint(folder) for _, folder in runs]
    start = threading.Barrier(2, timeout=30)

    def run(i: int) -> Any:
        where, folder = runs[i]
        start.wait()
        return backup(where, stack, folder, "P1")

    outcomes = side_by_side(*(functools.partial(run, i) for i in range(2)), timeout=120,
                            catch=RunRefusedError)
    filed = [i for i, o in enumerate(outcomes) if getattr(o, "status", None) == "filed"]
    refused = [i for i, o in enumerate(outcomes) if isinstance(o, RunRefusedError)]
    assert len(filed) == 1, outcomes
    assert len(refused) == 1, outcomes
    winner, loser = filed[0], refused[0]
    running_worker.stop()  # the filer finishes the refused message (see above)
    assert_filed_once(s3, stack, runs[winner][1], "P1", TS, outcomes[winner].run_id)
    assert_refused_and_kept(s3, stack, outcomes[loser], runs[loser][1], before[loser])


def test_same_run_uploaded_twice_is_filed_once(tmp_path, stack, s3, make_filer, worker):
    """The command is interrupted once its run is committed (here: it stops waiting at once), then
    run again: the second run of the command sends nothing and finds the run filed once."""
    make_filer()
    folder = make_project(tmp_path)
    with pytest.raises(ReceiptTimeoutError) as waiting:
        backup(tmp_path, stack, folder, "P1", wait_timeout=0)
    assert "re-run the same command" in (waiting.value.hint or "")
    drain(worker)
    again = backup(tmp_path, stack, folder, "P1")
    assert again.status == "filed"
    assert again.resumed
    assert again.bytes_sent == 0
    assert_filed_once(s3, stack, folder, "P1", TS, again.run_id)
    # Once filed, the same files under a new run id are that run: answered as already filed, and
    # the archive keeps the one run it has.
    third = backup(tmp_path, stack, folder, "P1", wait=False)
    drain(worker)
    receipt = read_receipt(s3, stack, "P1", third.run_id)
    assert receipt is not None
    assert receipt.filed
    assert receipt.already_filed
    assert receipt.filed_run_id == again.run_id
    assert list_keys(s3, STAGING, f"incoming/P1/{third.run_id}/") == []
    assert_filed_once(s3, stack, folder, "P1", TS, again.run_id)
    assert run_record_key("P1", TS, again.run_id) in list_keys(s3, ARCHIVE, "P1/_runs/")
