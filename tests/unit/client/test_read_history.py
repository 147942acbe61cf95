"""Which files of an untimestamped run later runs superseded, read from the run records alone."""

from __future__ import annotations

import pytest

from artifact_backup.archive.history import supersessions
from artifact_contract import RecordedFile, RecordInvalidError, RunRecord, archive_key

PROJECT = "RMI25320"


def record(run_id: str, created_at: str, files: dict[str, str], *, timestamp: str | None = None,
           versions: bool = True) -> RunRecord:
    recorded = tuple(
        RecordedFile("config", path, archive_key(PROJECT, "config", timestamp, path), 1, sha * 64,
                     f"v-{run_id}-{path}" if versions else None)
        for path, sha in sorted(files.items())
    )
    return RunRecord(run_id, PROJECT, timestamp, "rmi-360-raw", created_at, recorded)


def test_each_file_is_superseded_by_the_next_run_that_wrote_it_again():
    a = record("a" * 32, "2025-10-30T09:00:00+00:00", {"settings.json": "1", "config.yaml": "c"})
    b = record("b" * 32, "2025-10-30T10:00:00+00:00", {"settings.json": "2"})
    c = record("c" * 32, "2025-10-30T11:00:00+00:00", {"settings.json": "3", "config.yaml": "c"})
    # Listed in any order: the records' filing times decide.
    found = supersessions([c, a, b])
    assert set(found) == {a.run_id, b.run_id}
    settings = f"{PROJECT}/config/settings.json"
    config = f"{PROJECT}/config/config.yaml"
    assert found[a.run_id][settings].by_run_id == b.run_id
    assert found[a.run_id][settings].same_content is False
    assert found[a.run_id][config].by_run_id == c.run_id
    assert found[a.run_id][config].same_content is True
    assert found[a.run_id][settings].version_id == f"v-{a.run_id}-settings.json"
    assert found[b.run_id][settings].by_run_id == c.run_id
    assert c.run_id not in found
    assert "superseded by run " + b.run_id in found[a.run_id][settings].text()


def test_timestamped_runs_never_supersede_nor_are_superseded():
    a = record("a" * 32, "2025-10-30T09:00:00+00:00", {"settings.json": "1"}, timestamp="20251030_0900")
    b = record("b" * 32, "2025-10-30T10:00:00+00:00", {"settings.json": "2"}, timestamp="20251030_1000")
    c = record("c" * 32, "2025-10-30T11:00:00+00:00", {"settings.json": "3"})
    assert supersessions([a, b, c]) == {}


def test_a_record_older_than_version_ids_says_its_copy_cannot_be_read():
    a = record("a" * 32, "2025-10-30T09:00:00+00:00", {"settings.json": "1"}, versions=False)
    b = record("b" * 32, "2025-10-30T10:00:00+00:00", {"settings.json": "2"})
    (found,) = supersessions([a, b])[a.run_id].values()
    assert found.readable is False
    assert found.to_dict()["readable"] is False
    assert "predates version ids" in found.text()


def test_a_malformed_version_id_makes_the_record_invalid():
    for bad in ('""', "42", '["v"]'):
        raw = ('{"schema": "artifact-backup.run", "run_id": "' + "a" * 32 + '", "files": [{"type": "logs", '
               '"path": "x.log", "key": "P/logs/x.log", "size": 1, "sha256": "' + "0" * 64 + '", '
               '"version_id": ' + bad + "}]}")
        with pytest.raises(RecordInvalidError, match="version id"):
            RunRecord.from_json(raw)
