"""The read side end to end: runs, show, download and restore, through the command line, against
runs filed by the real client and filer on the embedded S3 server (pin, diff and cost:
test_read_side_history.py)."""

from __future__ import annotations

import json
import platform
import shlex

import pytest

from artifact_backup.archive import ArchiveReader
from artifact_backup.cli import main
from tests.support.archive_cli import RUN_A, RUN_B, files_under, sha256

pytestmark = pytest.mark.integration

# -- runs and show -----------------------------------------------------------------------------------


def test_runs_reads_records_only_and_shows_types_counts_sizes_storage(archive, local_stack):
    archive.file(RUN_A)
    archive.file(RUN_B, include=("logs",))
    # Raw data beside the runs (the guide's reels/) must never be listed.
    archive.s3.put_object(Bucket=archive.bucket, Key=f"{archive.project}/reels/reel_0001/f.jpg", Body=b"x")
    record_a, record_b = archive.record(RUN_A), archive.record(RUN_B)

    data = archive.cli_json("runs", archive.project)
    runs = {r["run"]: r for r in data["runs"]}
    assert list(runs) == [RUN_A, RUN_B]
    assert runs[RUN_A]["types"] == ["config", "logs", "report"]
    assert runs[RUN_B]["types"] == ["logs"]
    for ts, record in ((RUN_A, record_a), (RUN_B, record_b)):
        assert runs[ts]["files"] == len(record.files) > 0
        assert runs[ts]["bytes"] == record.bytes == sum(f.size for f in record.files)
        assert runs[ts]["storage"] == {"STANDARD": len(record.files)}
        assert runs[ts]["pinned"] is False
        assert runs[ts]["run_id"] == record.run_id

    code, out, _ = archive.cli("runs", archive.project)
    assert code == 0
    assert "2 runs of" in out
    row_a = next(line for line in out.splitlines() if line.startswith(RUN_A))
    assert "config,logs,report" in row_a
    assert str(len(record_a.files)) in row_a
    assert "STANDARD" in row_a

    # The library makes one LIST of _runs/ and one per run prefix: never the project's root.
    listed: list[str] = []
    client = local_stack.client("s3")
    client.meta.events.register("before-parameter-build.s3.ListObjectsV2",
                                lambda params, **_: listed.append(params["Prefix"]))
    ArchiveReader(client, archive.bucket).runs(archive.project)
    assert f"{archive.project}/_runs/" in listed
    assert all(p.startswith((f"{archive.project}/_runs/",)) or f"/{RUN_A}/" in p or f"/{RUN_B}/" in p
               for p in listed), listed
    assert not any(p.startswith(f"{archive.project}/reels") or p == f"{archive.project}/" for p in listed)


def test_show_lists_files_checksums_config_hash_and_uploader(archive):
    archive.file(RUN_A)
    record = archive.record(RUN_A)
    data = archive.cli_json("show", archive.project, RUN_A)
    assert data["config_sha256"] == sha256(archive.config.read_bytes())
    assert data["uploader"]["host"] == platform.node()
    assert data["uploader"]["client"].startswith("artifact-backup/")
    listed = {(f["type"], f["path"]): f for f in data["file_list"]}
    assert set(listed) == {(f.type, f.path) for f in record.files}
    for (type_name, path), entry in listed.items():
        content = archive.local(type_name, path)
        assert entry["sha256"] == sha256(content)
        assert entry["size"] == len(content)
        assert entry["storage_class"] == "STANDARD"

    code, out, _ = archive.cli("show", archive.project, "latest")
    assert code == 0
    assert sha256(archive.config.read_bytes()) in out
    assert f"config/{archive.config.name} *" in out
    assert platform.node() in out
    assert sha256(archive.local("logs", "process_log.txt")) in out


def test_unknown_run_exits_8_and_bad_run_name_exits_2(archive):
    archive.file(RUN_A, include=("logs",))
    code, _, err = archive.cli("show", archive.project, "20240101_0000")
    assert code == 8
    assert "no run 20240101_0000" in err
    code, _, err = archive.cli("download", archive.project, "yesterday", "--to", str(archive.root / "d"))
    assert code == 2
    code, _, err = archive.cli("runs", "_bad")
    assert code == 2


# -- download ----------------------------------------------------------------------------------------


def test_download_run_types_one_file_and_all_runs_verified(archive):
    archive.file(RUN_A)
    archive.file(RUN_B, include=("logs",))
    record = archive.record(RUN_A)

    whole = archive.root / "whole"
    data = archive.cli_json("download", archive.project, RUN_A, "--to", str(whole))
    got = files_under(whole)
    assert got == {f"{f.type}/{f.path}": archive.local(f.type, f.path) for f in record.files}
    assert data["result"]["counts"]["downloaded"] == len(record.files)
    assert data["result"]["bytes_downloaded"] == record.bytes

    # again: everything is already there and intact, nothing is fetched
    again = archive.cli_json("download", archive.project, RUN_A, "--to", str(whole))
    assert again["result"]["counts"] == {**again["result"]["counts"], "downloaded": 0,
                                         "present": len(record.files)}

    logs = archive.root / "logs_only"
    assert archive.cli("download", archive.project, RUN_A, "--include", "logs", "--to", str(logs))[0] == 0
    assert set(files_under(logs)) == {f"logs/{f.path}" for f in record.files if f.type == "logs"}

    one = archive.root / "one"
    code, out, _ = archive.cli("download", archive.project, RUN_A, "--file", "config/config.yaml",
                               "--to", str(one))
    assert code == 0
    assert files_under(one) == {"config/config.yaml": archive.config.read_bytes()}
    assert "Downloaded 1 file" in out

    every = archive.root / "all_logs"
    assert archive.cli("download", archive.project, "all", "--include", "logs", "--to", str(every))[0] == 0
    got = files_under(every)
    assert {k.split("/")[0] for k in got} == {RUN_A, RUN_B}
    assert got[f"{RUN_B}/logs/process_log.txt"] == archive.local("logs", "process_log.txt")
    assert all(k.split("/")[1] == "logs" for k in got)


def test_download_detects_a_corrupted_archive_object_and_keeps_no_bad_file(archive):
    archive.file(RUN_A)
    record = archive.record(RUN_A)
    victim = next(f for f in record.files if f.path == "process_log.txt")
    # Damage the archived bytes in place (same key, same tags), as bit rot or a stray overwrite would.
    archive.s3.put_object(Bucket=archive.bucket, Key=victim.key, Body=b"not the log that was filed\n",
                          Tagging="artifact-backup:managed=true&artifact-backup:retention=standard")

    target = archive.root / "restored"
    code, out, err = archive.cli("download", archive.project, RUN_A, "--to", str(target))
    assert code == 9
    assert "logs/process_log.txt" in err
    assert "does not match its checksum" in err
    assert victim.sha256 in err
    got = files_under(target)
    assert "logs/process_log.txt" not in got
    assert not [k for k in got if "artifact-backup-part" in k or "process_log" in k]
    # every intact file arrived, byte for byte
    intact = {f"{f.type}/{f.path}": archive.local(f.type, f.path) for f in record.files if f != victim}
    assert got == intact

    code, out, _ = archive.cli("download", archive.project, RUN_A, "--to", str(target), "--json")
    assert code == 9
    error = json.loads(out)["error"]
    assert error["code"] == "checksum-mismatch"
    assert error["exit_code"] == 9
    assert error["files"][0]["file"] == "logs/process_log.txt"
    assert error["files"][0]["expected"] == victim.sha256


def test_glacier_object_reported_with_restore_command_then_restored_and_downloaded(archive):
    archive.file(RUN_A)
    record = archive.record(RUN_A)
    frozen = next(f for f in record.files if f.path == "exiftool_log.txt")
    archive.to_glacier(frozen.key)

    runs = archive.cli_json("runs", archive.project)["runs"]
    assert runs[0]["storage"] == {"GLACIER": 1, "STANDARD": len(record.files) - 1}

    target = archive.root / "out"
    code, _, err = archive.cli("download", archive.project, RUN_A, "--include", "logs", "--to", str(target))
    assert code == 10
    command = shlex.join(["artifact-backup", "restore", archive.project, RUN_A, "--include", "logs",
                          "--config", str(archive.config)])
    assert command in err
    assert "InvalidObjectState" not in err
    got = files_under(target)
    assert "logs/exiftool_log.txt" not in got
    assert got["logs/process_log.txt"] == archive.local("logs", "process_log.txt")

    # the printed command, run as printed
    argv = shlex.split(command)[1:]
    archive.capsys.readouterr()
    assert main([*argv, "--tier", "Bulk", "--days", "2", "--json"]) == 0
    started = json.loads(archive.capsys.readouterr().out)["result"]
    assert started["counts"]["started"] == 1
    assert started["counts"]["not-archived"] == sum(1 for f in record.files if f.type == "logs") - 1
    assert (started["tier"], started["days"]) == ("Bulk", 2)
    assert archive.s3.head_object(Bucket=archive.bucket, Key=frozen.key).get("Restore")

    again = archive.cli_json("restore", archive.project, RUN_A, "--file", "logs/exiftool_log.txt")["result"]
    assert again["counts"]["restored"] == 1
    assert again["ready"] is True

    done = archive.cli_json("download", archive.project, RUN_A, "--include", "logs", "--to", str(target))
    assert done["result"]["counts"]["downloaded"] == 1
    assert files_under(target)["logs/exiftool_log.txt"] == archive.local("logs", "exiftool_log.txt")
