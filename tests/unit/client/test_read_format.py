"""Formatting of the read commands, the pieces of logic they rest on, and the download progress line."""

from __future__ import annotations

import io
import json
import shlex

import pytest
from botocore.response import StreamingBody
from client_support import ARCHIVE

from artifact_backup.archive._s3 import ListedObject, get_bytes
from artifact_backup.archive.diff import RunDiff, compare_records, unified
from artifact_backup.archive.download import restore_command, restore_state
from artifact_backup.archive.pin import retention_tags
from artifact_backup.archive.pin_note import PinNote, pin_key
from artifact_backup.archive.restore import RestoreOutcome, RestoreResult, check_request
from artifact_backup.archive.runs import select_files
from artifact_backup.archive.summary import RunListing, RunSummary
from artifact_backup.cli._archive import money, storage_text, table
from artifact_backup.cli.diff import format_diff
from artifact_backup.cli.restore import format_restore
from artifact_backup.cli.runs import format_runs
from artifact_backup.cli.show import format_show, uploader_text
from artifact_backup.exceptions import ArchiveReadError, ArgumentInvalidError, RunNotFoundError
from artifact_contract import RecordedFile, RecordInvalidError, RunRecord, archive_key

SHA = {n: f"{n:064x}" for n in range(10)}


def rfile(type_name: str, path: str, size: int, sha: int, ts: str | None = "20251030_1430") -> RecordedFile:
    return RecordedFile(type_name, path, archive_key("RMI25320", type_name, ts, path), size, SHA[sha])


def record(files, ts: str | None = "20251030_1430", run_id: str = "a" * 32, config_sha=None) -> RunRecord:
    return RunRecord(run_id=run_id, project_key="RMI25320", timestamp=ts, archive_bucket="rmi-360-raw",
                     created_at="2025-10-30T14:30:05+00:00", files=tuple(files),
                     uploader={"client": "artifact-backup/0.1.0", "host": "PROC-PC", "python": "3.12.1"},
                     config_sha256=config_sha)


def test_table_aligns_numbers_right_and_strips_trailing_space():
    text = table(["RUN", "FILES", "PIN"], [["20251030_0900", 3, ""], ["x", 120, "yes"]], right=(1,))
    assert text.splitlines() == [
        "RUN            FILES  PIN",
        "20251030_0900      3",
        "x                120  yes",
    ]


def test_storage_and_money_text():
    assert storage_text({"STANDARD": 12}) == "STANDARD"
    assert storage_text({"GLACIER": 1, "STANDARD": 11}) == "GLACIER 1, STANDARD 11"
    assert storage_text(None) == "-"
    assert money(0) == "$0.00"
    assert money(12.345) == "$12.35"
    assert money(0.0345) == "$0.0345"
    assert money(0.0000081) == "$0.000008"
    assert money(1.5, "EUR") == "1.50 EUR"


def test_runs_table_shows_every_column_and_the_pin_note():
    stamped = record([rfile("logs", "a.log", 2048, 1), rfile("config", "config.yaml", 100, 2)])
    pinned = RunSummary(stamped, "k", PinNote(True, "Final production run - DO NOT DELETE", "t", "a" * 32),
                        {f.key: ListedObject(f.key, f.size, "GLACIER") for f in stamped.files})
    plain = RunSummary(record([rfile("logs", "a.log", 10, 3, ts="20251030_0900")], ts="20251030_0900",
                              run_id="b" * 32), "k2", None, {})
    text = format_runs(RunListing("RMI25320", (plain, pinned)), "rmi-360-raw")
    lines = text.splitlines()
    assert lines[0].startswith("2 runs of RMI25320 in s3://rmi-360-raw")
    assert lines[1].split() == ["RUN", "TYPES", "FILES", "SIZE", "STORAGE", "PINNED"]
    assert lines[2].split()[:3] == ["20251030_0900", "logs", "1"]
    assert "MISSING" in lines[2]
    assert "config,logs" in lines[3]
    assert "GLACIER" in lines[3]
    assert lines[3].endswith("yes: Final production run - DO NOT DELETE")
    assert format_runs(RunListing("P", ()), "b").startswith("No runs of P")


def test_show_marks_the_config_file_and_names_the_uploader():
    files = [rfile("config", "config.yaml", 100, 2), rfile("config", "settings.json", 10, 3)]
    summary = RunSummary(record(files, config_sha=SHA[2]), "k", None, None)
    text = format_show(summary, "rmi-360-raw")
    assert "config/config.yaml *" in text
    assert "config/settings.json *" not in text
    assert f"sha256 {SHA[2]}" in text
    assert "artifact-backup/0.1.0 on host PROC-PC (Python 3.12.1)" in text
    assert "standard (not pinned)" in text
    assert uploader_text({}) == "(not recorded)"
    data = summary.to_dict(files=True)
    assert data["file_list"][0]["storage_class"] is None
    assert data["config_sha256"] == SHA[2]


def test_compare_records_by_checksum():
    same = rfile("logs", "same.log", 1, 1)
    a = record([same, rfile("logs", "edit.log", 1, 2), rfile("report", "r.html", 5, 3)])
    b = record([same, rfile("logs", "edit.log", 2, 4), rfile("logs", "new.log", 3, 5)])
    changes, unchanged = compare_records(a, b)
    assert [(c.type, c.path, c.status) for c in changes] == [
        ("logs", "edit.log", "changed"), ("logs", "new.log", "added"), ("report", "r.html", "removed")
    ]
    assert unchanged == {"logs": 1}


def test_unified_diff_of_config_and_of_an_added_file():
    text = unified("config.yaml", "A", "B", "a: 1\nsigma: 1.0\n", "a: 1\nsigma: 1.5\n")
    assert text.splitlines()[:2] == ["--- A/config/config.yaml", "+++ B/config/config.yaml"]
    assert "-sigma: 1.0" in text
    assert "+sigma: 1.5" in text
    added = unified("extra.yaml", "A", "B", None, "x: 1")
    assert added.startswith("--- /dev/null\n+++ B/config/extra.yaml")
    assert "\\ No newline at end of file" in added


def test_diff_text_puts_the_config_first():
    from artifact_backup.archive.diff import ConfigChange, FileChange

    result = RunDiff("RMI25320", "A", "B", SHA[1], SHA[2],
                     config=[ConfigChange("config.yaml", "changed", "--- A\n+++ B\n-x\n+y\n", main=True)],
                     changes=[FileChange("config", "config.yaml", "changed", 1, 1, SHA[1], SHA[2]),
                              FileChange("logs", "n.log", "added", size_b=5, sha256_b=SHA[3])],
                     unchanged={"logs": 2})
    text = format_diff(result)
    assert text.index("Config:") < text.index("+y") < text.index("Files:") < text.index("+ logs/n.log")
    assert "logs: 1 added, 0 removed, 0 changed, 2 unchanged" in text
    assert json.loads(json.dumps(result.to_dict()))["types"]["logs"]["added"][0]["path"] == "n.log"


def test_select_files_by_type_and_name():
    r = record([rfile("config", "config.yaml", 1, 1), rfile("logs", "a/config.yaml", 1, 2),
                rfile("logs", "b.log", 1, 3)])
    assert [f.path for f in select_files(r, include=["logs"])] == ["a/config.yaml", "b.log"]
    assert [f.path for f in select_files(r, files=["logs/b.log"])] == ["b.log"]
    assert [f.path for f in select_files(r, files=["b.log"])] == ["b.log"]
    with pytest.raises(RunNotFoundError):
        select_files(r, files=["logs/zzz.log"])
    with pytest.raises(ArgumentInvalidError):
        select_files(r, include=["reels"])
    hostile = record([RecordedFile("logs", "../../etc/passwd", "RMI25320/logs/x", 1, SHA[1])])
    with pytest.raises(RecordInvalidError):
        select_files(hostile)


def test_restore_command_and_state(monkeypatch):
    monkeypatch.setenv("ARTIFACT_BACKUP_SHELL", "posix")  # the hint is read back with shlex here
    command = restore_command("RMI 1", "20251030_1430", include=["logs"], files=["config/config.yaml"],
                              options=["--config", "my config.yaml"])
    assert shlex.split(command) == ["artifact-backup", "restore", "RMI 1", "20251030_1430", "--include",
                                    "logs", "--file", "config/config.yaml", "--config", "my config.yaml"]
    assert restore_state(None) == "none"
    assert restore_state({"Restore": 'ongoing-request="true"'}) == "in-progress"
    assert restore_state({"Restore": 'ongoing-request="false", expiry-date="x"'}) == "restored"
    with pytest.raises(ArgumentInvalidError):
        check_request("Fast", 1)
    with pytest.raises(ArgumentInvalidError):
        check_request("Bulk", 0)


def test_restore_text_says_what_is_ready():
    f = rfile("logs", "a.log", 1, 1)
    outcomes = [RestoreOutcome("r", f, "GLACIER", "started"),
                RestoreOutcome("r", f, "STANDARD", "not-archived")]
    pending = RestoreResult("P", "20251030_1430", "Bulk", 3, outcomes)
    text = format_restore(pending, "artifact-backup download P 20251030_1430 --to DIR")
    assert "Restoring 1 file" in text
    assert "tier Bulk" in text
    assert "again" in text
    ready = RestoreResult("P", "x", "Standard", 7, [RestoreOutcome("r", f, "GLACIER", "restored")])
    assert "Download: artifact-backup download" in format_restore(ready, "artifact-backup download P x")


def test_pin_tags_keep_managed_and_note_lives_beside_the_record():
    assert retention_tags(True) == [{"Key": "artifact-backup:managed", "Value": "true"},
                                    {"Key": "artifact-backup:retention", "Value": "pinned"}]
    assert retention_tags(False)[1]["Value"] == "standard"
    assert pin_key(record([])) == "RMI25320/_runs/20251030_1430/pin.json"
    assert pin_key(record([], ts=None)) == f"RMI25320/_runs/untimestamped/{'a' * 32}/pin.json"
    note = PinNote(True, "keep", "2025-10-30T14:30:00+00:00", "a" * 32, {"host": "h"})
    assert PinNote.from_json(note.to_json()) == note
    with pytest.raises(RecordInvalidError):
        PinNote.from_json(b'{"schema": "other"}')


def test_pin_names_the_missing_permission_when_the_note_cannot_be_written():
    from botocore.exceptions import ClientError

    from artifact_backup.archive.pin import set_retention
    from artifact_backup.exceptions import ArchiveReadError

    class Client:
        tagged: list[str] = []

        def put_object_tagging(self, *, Bucket, Key, Tagging):  # noqa: N803 - boto3's names
            self.tagged.append(Key)

        def get_object_lock_configuration(self, **kwargs):
            raise ClientError({"Error": {"Code": "ObjectLockConfigurationNotFoundError"}}, "GetObjectLock")

        def put_object(self, **kwargs):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "PutObject")

    files = [rfile("logs", "a.log", 1, 1), rfile("logs", "b.log", 1, 2)]
    with pytest.raises(ArchiveReadError) as info:
        set_retention(Client(), "rmi-360-raw", RunSummary(record(files), "k"), pinned=True, note="keep")
    assert sorted(Client.tagged) == sorted(f.key for f in files)
    assert info.value.code == "access-denied"
    assert info.value.exit_code == 5
    assert "arn:aws:s3:::rmi-360-raw/*/_runs/*/pin.json" in info.value.hint
    assert "2 objects of run 20251030_1430 are tagged retention=pinned" in info.value.message


def test_an_answer_cut_off_mid_body_is_a_read_error_not_short_bytes(s3):
    """A body that ends early, cleanly, before its Content-Length (the connection closed mid-answer)
    is an error: read through botocore's StreamingBody, never its raw stream, which from botocore
    1.44 on (urllib3 no longer checking the length) would hand back half a run record as if whole."""
    key = "RMI25320/_runs/20251030_1430/run.json"
    s3.put_object(Bucket=ARCHIVE, Key=key, Body=b'{"run": "' + b"x" * 1000 + b'"}')

    def cut_off(parsed, **_kwargs) -> None:
        data = parsed["Body"].read()
        parsed["Body"] = StreamingBody(io.BytesIO(data[: len(data) // 2]), len(data))

    s3.meta.events.register("after-call.s3.GetObject", cut_off)
    try:
        with pytest.raises(ArchiveReadError):
            get_bytes(s3, ARCHIVE, key, action="reading a run record")
    finally:
        s3.meta.events.unregister("after-call.s3.GetObject", cut_off)
