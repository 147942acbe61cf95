"""Uploads sharing a timestamp, under faults: two filers claiming at the same moment, a filer killed
while its upload joins a timestamp, and a reused copy that vanishes between its check and its copy.

Two disjoint uploads at once both join the timestamp; two overlapping ones at once end with exactly
one filed and the other refused ``timestamp-taken``, its types given back; a killed join ends, once
delivered again, as an undisturbed one; and nothing of an upload already filed there is rewritten.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

import pytest

from artifact_backup.archive import ArchiveReader
from artifact_contract import Claim, RunRecord, manifest_key, run_record_key, type_claim_key
from artifact_filer import FilerRefusedError
from tests.support.s3 import list_keys

from .support import TS, backup, drain, kill_at, local_files, make_project, side_by_side, versions

ARCHIVE = "rmi-360-raw"


def _claim(s3: Any, type_name: str) -> Claim:
    raw = s3.get_object(Bucket=ARCHIVE, Key=type_claim_key("P1", TS, type_name))["Body"].read()
    return Claim.from_json(raw)


def _committed(where: Path, stack: Any, folder: Path, include: list[str]) -> str:
    """A run committed to staging, not filed: its run id."""
    where.mkdir(exist_ok=True)
    result = backup(where, stack, folder, "P1", include=include, wait=False)
    assert result.status == "committed"
    return result.run_id


def _assert_filed(s3: Any, folder: Path, run_id: str, types: list[str]) -> None:
    """The upload's files are at the timestamp, byte for byte, written once, by it."""
    record = RunRecord.from_json(
        s3.get_object(Bucket=ARCHIVE, Key=run_record_key("P1", TS, run_id))["Body"].read())
    files = local_files(folder, types)
    assert {(f.type, f.path) for f in record.files} == set(files)
    counts = versions(s3, ARCHIVE, "P1/")
    for (type_name, rel), path in files.items():
        key = f"P1/{type_name}/{TS}/{rel}"
        got = s3.get_object(Bucket=ARCHIVE, Key=key)
        assert got["Body"].read() == path.read_bytes(), key
        assert got["Metadata"]["run-id"] == run_id
        assert counts[key] == 1, f"{key} was written {counts[key]} times"
    for type_name in types:
        claim = _claim(s3, type_name)
        assert claim.run_id == run_id
        assert not claim.released


def _one_run(stack: Any, uploads: dict[str, list[str]]) -> None:
    """Readers see one run at the timestamp, with each upload and its types."""
    reader = ArchiveReader(stack.client("s3"), ARCHIVE)
    (run,) = reader.runs("P1", storage=False).runs
    assert run.label == TS
    assert {u.run_id: list(u.types) for u in run.uploads} == uploads
    assert run.types == tuple(sorted(t for types in uploads.values() for t in types))


def _at_once(make_filer: Any, keys: list[str]) -> list[Any]:
    """File the manifests at ``keys`` by one filer each, both claiming at the same moment."""
    verified = threading.Barrier(len(keys), timeout=60)

    def meet(step: str) -> None:
        if step == "verified":
            verified.wait()

    filers = [make_filer(on_step=meet, install=False) for _ in keys]
    return side_by_side(*(functools.partial(f.file, k) for f, k in zip(filers, keys, strict=True)),
                        timeout=120, catch=FilerRefusedError)


def test_two_disjoint_joins_at_once_are_both_filed(tmp_path, stack, s3, make_filer, worker):
    folder = make_project(tmp_path / "a")
    logs = _committed(tmp_path / "logs", stack, folder, ["logs"])
    gis = _committed(tmp_path / "gis", stack, folder, ["gis_data"])

    outcomes = _at_once(make_filer, [manifest_key("P1", logs), manifest_key("P1", gis)])

    assert [getattr(o, "status", o) for o in outcomes] == ["filed", "filed"]
    make_filer()
    drain(worker)  # the queue's own events for both runs find them filed
    _assert_filed(s3, folder, logs, ["logs"])
    _assert_filed(s3, folder, gis, ["gis_data"])
    _one_run(stack, {logs: ["logs"], gis: ["gis_data"]})


def test_two_overlapping_joins_at_once_file_exactly_one(tmp_path, stack, s3, make_filer, worker):
    folder_a = make_project(tmp_path / "a", seed="a")
    folder_b = make_project(tmp_path / "b", seed="b")
    both = _committed(tmp_path / "both", stack, folder_a, ["logs", "gis_data"])
    gis = _committed(tmp_path / "gis", stack, folder_b, ["gis_data"])

    outcomes = _at_once(make_filer, [manifest_key("P1", both), manifest_key("P1", gis)])

    filed = [i for i, o in enumerate(outcomes) if getattr(o, "status", None) == "filed"]
    refused = [o for o in outcomes if isinstance(o, FilerRefusedError)]
    assert len(filed) == 1, outcomes
    assert len(refused) == 1, outcomes
    assert refused[0].code == "timestamp-taken"
    make_filer()
    drain(worker)
    uploads = [(folder_a, both, ["gis_data", "logs"]), (folder_b, gis, ["gis_data"])]
    winner, loser = uploads[filed[0]], uploads[1 - filed[0]]
    _assert_filed(s3, *winner)
    _one_run(stack, {winner[1]: winner[2]})
    # The loser wrote no record and holds no type: whatever it claimed first it gave back.
    assert not list_keys(s3, ARCHIVE, run_record_key("P1", TS, loser[1]))
    claims = list_keys(s3, ARCHIVE, f"P1/_runs/{TS}/claims/")
    for type_name in set(loser[2]) - set(winner[2]):  # claimed (then released) only if met first
        if type_claim_key("P1", TS, type_name) in claims:
            claim = _claim(s3, type_name)
            assert claim.run_id == loser[1]
            assert claim.released
    # What the loser could file alone joins the timestamp now.
    rest = sorted(set(loser[2]) - set(winner[2]))
    if rest:
        again = _committed(tmp_path / "rest", stack, loser[0], rest)
        drain(worker)
        _assert_filed(s3, loser[0], again, rest)


@pytest.mark.parametrize("step", ["claimed", "object-filed", "filed", "recorded", "receipted"])
def test_a_filer_killed_while_joining_ends_as_an_undisturbed_join(step, tmp_path, stack, s3, make_filer,
                                                                  worker, running_worker):
    folder = make_project(tmp_path / "a")
    (tmp_path / "logs").mkdir()
    make_filer()
    logs = backup(tmp_path / "logs", stack, folder, "P1", include=["logs"])
    running_worker.stop()
    before = {k: s3.head_object(Bucket=ARCHIVE, Key=k)["ETag"] for k in list_keys(s3, ARCHIVE, "P1/logs/")}

    gis = _committed(tmp_path / "gis", stack, folder, ["gis_data"])
    make_filer(on_step=kill_at(step))
    assert worker.poll_once().failed == 1
    make_filer()  # a new container
    drain(worker)

    _assert_filed(s3, folder, logs.run_id, ["logs"])
    _assert_filed(s3, folder, gis, ["gis_data"])
    after = {k: s3.head_object(Bucket=ARCHIVE, Key=k)["ETag"] for k in list_keys(s3, ARCHIVE, "P1/logs/")}
    assert after == before
    _one_run(stack, {logs.run_id: ["logs"], gis: ["gis_data"]})
    assert list_keys(s3, "rmi-360-raw-staging", "incoming/") == []


def test_a_reused_copy_vanishing_before_its_copy_leaves_the_timestamp_usable(
        tmp_path, stack, s3, make_filer, running_worker):
    """The reuse source is deleted after the run claimed its timestamp: the run is refused
    ``reuse-unavailable`` with some files written, gives the timestamp back, and the client's
    re-send in full files there, replacing what the refused attempt left."""
    folder = make_project(tmp_path / "a")
    make_filer()
    first = backup(tmp_path, stack, folder, "P1", timestamp="20251029_0900")
    assert first.status == "filed"
    sources = [k for k in list_keys(s3, ARCHIVE, "P1/gis_data/20251029_0900/")]

    def vanish() -> None:
        for key in sources:
            for v in s3.list_object_versions(Bucket=ARCHIVE, Prefix=key).get("Versions", []):
                s3.delete_object(Bucket=ARCHIVE, Key=key, VersionId=v["VersionId"])

    armed = {"once": True}

    def hook(step: str) -> None:
        if step == "claimed" and armed.pop("once", False):
            vanish()

    make_filer(on_step=hook)
    again = backup(tmp_path, stack, folder, "P1")
    assert again.status == "filed"
    assert again.resent is True
    assert again.timestamp == TS
    record = RunRecord.from_json(
        s3.get_object(Bucket=ARCHIVE, Key=run_record_key("P1", TS, again.run_id))["Body"].read())
    for f in record.files:
        got = s3.get_object(Bucket=ARCHIVE, Key=f.key)
        assert got["Metadata"]["run-id"] == again.run_id
        assert got["Metadata"]["sha256"] == f.sha256
    assert {(f.type, f.path) for f in record.files} == set(local_files(folder))
