"""The read side end to end: runs, show, download, restore, diff, pin/unpin and cost, through the
command line, against runs filed by the real client and filer on the embedded S3 server."""

from __future__ import annotations

import hashlib
import json
import platform
import shlex
from pathlib import Path

import pytest

from artifact_backup import backup_run, load_config
from artifact_backup.archive import ArchiveReader
from artifact_backup.cli import main
from artifact_backup.local.sample import make_sample_project
from artifact_contract import RunRecord

pytestmark = pytest.mark.integration

RUN_A = "20251030_0900"
RUN_B = "20251030_1430"
GB = 1024**3
MANAGED = {"Key": "artifact-backup:managed", "Value": "true"}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Archive:
    """A project of the test's own: its folder, its config.yaml, its filed runs, and the CLI."""

    def __init__(self, stack, s3, root: Path, project_key: str, capsys) -> None:
        self.stack, self.s3, self.root, self.project = stack, s3, root, project_key
        self.bucket = stack.names.archive_bucket
        self.capsys = capsys
        self.folder = make_sample_project(root / "projects", project_key)
        self.config = root / "config.yaml"
        self.cost_block = ""
        self.write_config(sigma="1.0")

    def write_config(self, *, sigma: str) -> None:
        self.config.write_text(
            f'schema_version: 1.2.0\nproject:\n  slug: "{self.project}"\nenhance:\n  sigma: {sigma}\n'
            f"{self.stack.config_block()}{self.cost_block}",
            encoding="utf-8",
        )

    def file(self, timestamp: str | bool, include=("config", "logs", "report"), **kwargs):
        result = backup_run(self.folder, settings=load_config(self.config), project_key=self.project,
                            include=list(include), timestamp=timestamp, **kwargs)
        assert result.status == "filed", result
        return result

    def record(self, timestamp: str) -> RunRecord:
        """The record of the one upload filed at ``timestamp``."""
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"{self.project}/_runs/{timestamp}/runs/")
        (key,) = [o["Key"] for o in listed.get("Contents", [])]
        return RunRecord.from_json(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def cli(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main([*argv, "--config", str(self.config)])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def cli_json(self, *argv: str, expect: int = 0) -> dict:
        code, out, err = self.cli(*argv, "--json")
        assert code == expect, err
        return json.loads(out)

    def local(self, type_name: str, path: str) -> bytes:
        if type_name == "config" and path == self.config.name:
            return self.config.read_bytes()
        return (self.folder / type_name / path).read_bytes()

    def tags(self, key: str) -> list[dict]:
        return sorted(self.s3.get_object_tagging(Bucket=self.bucket, Key=key)["TagSet"],
                      key=lambda t: t["Key"])

    def to_glacier(self, key: str) -> None:
        self.s3.copy_object(Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": key},
                            StorageClass="GLACIER")


@pytest.fixture
def archive(local_stack, s3, tmp_path, project_key, isolated_cache, capsys) -> Archive:
    return Archive(local_stack, s3, tmp_path, project_key, capsys)


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


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


# -- pin, unpin --------------------------------------------------------------------------------------


def test_pin_and_unpin_retag_every_object_keep_managed_and_show_the_note(archive):
    archive.file(RUN_A)
    archive.file(RUN_B, include=("logs",))
    record, other = archive.record(RUN_A), archive.record(RUN_B)
    note = "Final production run - DO NOT DELETE"

    data = archive.cli_json("pin", archive.project, RUN_A, "--note", note)
    assert data["result"]["objects_tagged"] == len(record.files)
    for f in record.files:
        assert archive.tags(f.key) == [MANAGED, {"Key": "artifact-backup:retention", "Value": "pinned"}]
    for f in other.files:
        assert {"Key": "artifact-backup:retention", "Value": "standard"} in archive.tags(f.key)
    stored = json.loads(archive.s3.get_object(
        Bucket=archive.bucket, Key=f"{archive.project}/_runs/{RUN_A}/pin.json")["Body"].read())
    assert (stored["pinned"], stored["note"], stored["run_id"]) == (True, note, record.run_id)

    runs = {r["run"]: r for r in archive.cli_json("runs", archive.project)["runs"]}
    assert runs[RUN_A]["pinned"] is True
    assert runs[RUN_A]["pin"]["note"] == note
    assert runs[RUN_B]["pinned"] is False
    code, out, _ = archive.cli("runs", archive.project)
    assert note in next(line for line in out.splitlines() if line.startswith(RUN_A))

    code, _, err = archive.cli("pin", archive.project, RUN_A, "--note", "  ")
    assert code == 2
    assert "--note" in err

    archive.cli_json("unpin", archive.project, RUN_A, "--note", "superseded")
    for f in record.files:
        assert archive.tags(f.key) == [MANAGED, {"Key": "artifact-backup:retention", "Value": "standard"}]
    runs = {r["run"]: r for r in archive.cli_json("runs", archive.project)["runs"]}
    assert runs[RUN_A]["pinned"] is False


# -- diff --------------------------------------------------------------------------------------------


def test_diff_shows_the_config_change_first_then_files_per_type(archive):
    archive.file(RUN_A)
    archive.write_config(sigma="1.5")
    log = archive.folder / "logs" / "process_log.txt"
    log.write_text(log.read_text() + "one more line\n")
    (archive.folder / "logs" / "new_step.log").write_text("added in the second run\n")
    (archive.folder / "report" / "report.html").unlink()
    archive.file(RUN_B)

    result = archive.cli_json("diff", archive.project, RUN_A, RUN_B)["result"]
    main_config = result["config"][0]
    assert main_config["main"] is True
    assert main_config["path"] == "config.yaml"
    assert "-  sigma: 1.0\n" in main_config["diff"]
    assert "+  sigma: 1.5\n" in main_config["diff"]
    assert result["config_changed"] is True
    types = result["types"]
    assert [c["path"] for c in types["logs"]["changed"]] == ["process_log.txt"]
    assert [c["path"] for c in types["logs"]["added"]] == ["new_step.log"]
    assert [c["path"] for c in types["report"]["removed"]] == ["report.html"]
    assert "settings.json" not in json.dumps(types.get("config", {}))
    assert result["unchanged"]["logs"] == 4

    code, out, _ = archive.cli("diff", archive.project, RUN_A, RUN_B)
    assert code == 0
    assert out.index("+  sigma: 1.5") < out.index("Files:") < out.index("~ logs/process_log.txt")
    assert "+ logs/new_step.log" in out
    assert "- report/report.html" in out

    same = archive.cli_json("diff", archive.project, RUN_B, RUN_B)["result"]
    assert same["identical"] is True
    assert same["config"] == []


# -- cost --------------------------------------------------------------------------------------------


def test_cost_from_known_sizes_with_prices_from_config(archive):
    archive.cost_block = (
        "cost:\n  storage_gb_month: {STANDARD: 1.0, GLACIER: 0.25}\n  download_gb: 2.0\n"
        "  get_per_1000: 1.0\n  transition_per_1000: {GLACIER: 10.0}\n  retrieval_gb: {GLACIER: 0.5}\n"
        "  restore_per_1000: {GLACIER: 20.0}\n  min_transition_kb: 32\n"
    )
    archive.write_config(sigma="1.0")
    archive.file(RUN_A, include=("config", "logs", "report", "gis_data"))
    record = archive.record(RUN_A)
    records = archive.s3.list_objects_v2(Bucket=archive.bucket, Prefix=f"{archive.project}/_runs/")
    record_sizes = [o["Size"] for o in records["Contents"]]

    result = archive.cli_json("cost", archive.project)["result"]
    sizes = [f.size for f in record.files]
    total = sum(sizes) + sum(record_sizes)
    assert result["now"]["total"]["bytes"] == total
    assert result["now"]["total"]["objects"] == len(sizes) + len(record_sizes)
    assert result["now"]["total"]["monthly"] == pytest.approx(total / GB * 1.0, rel=1e-6)
    assert result["now"]["by_class"] == {"STANDARD": result["now"]["total"]}
    for type_name in ("config", "logs", "report", "gis_data"):
        want = sum(f.size for f in record.files if f.type == type_name)
        assert result["now"]["by_type"][type_name]["bytes"] == want

    moving = [s for s in sizes if s >= 32 * 1024]
    staying = sum(sizes) - sum(moving) + sum(record_sizes)
    assert moving, "the sample project has artifacts above the transition minimum"
    after = result["after_transition"]
    assert after["by_class"]["GLACIER"]["objects"] == len(moving)
    overhead = len(moving) * (32 * 1024 * 0.25 + 8 * 1024 * 1.0) / GB
    expected_after = staying / GB * 1.0 + sum(moving) / GB * 0.25 + overhead
    assert after["total"]["monthly"] == pytest.approx(expected_after, rel=1e-6)
    requests = result["requests"]
    assert requests["transition"]["requests"] == len(moving)
    assert requests["transition"]["cost"] == pytest.approx(len(moving) * 10.0 / 1000)
    assert requests["download_all"]["requests"] == len(sizes)
    assert requests["download_all"]["cost"] == pytest.approx(len(sizes) / 1000 + sum(sizes) / GB * 2.0)
    restore = requests["restore_all_after_transition"]
    assert restore["cost"] == pytest.approx(len(moving) * 20.0 / 1000 + sum(moving) / GB * 0.5)

    code, out, _ = archive.cli("cost", archive.project)
    assert code == 0
    assert out.index("Now:") < out.index("After the transition to GLACIER") < out.index("One-off requests:")
    assert "cost: in config.yaml" in out


# -- untimestamped uploads, and reading without a config file -----------------------------------------


def test_untimestamped_upload_is_a_run_named_by_its_id(archive, monkeypatch):
    result = archive.file(False, include=("logs",))
    runs = archive.cli_json("runs", archive.project)["runs"]
    assert [r["run"] for r in runs] == [result.run_id]
    assert runs[0]["timestamp"] is None

    shown = archive.cli_json("show", archive.project, result.run_id[:8])
    assert shown["run_id"] == result.run_id
    target = archive.root / "plain"
    assert archive.cli("download", archive.project, result.run_id, "--to", str(target))[0] == 0
    assert files_under(target)["logs/enhance_log.csv"] == archive.local("logs", "enhance_log.csv")

    # an operator's machine without config.yaml: --bucket and the AWS options suffice
    elsewhere = archive.root / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    archive.capsys.readouterr()
    assert main(["runs", archive.project, "--bucket", archive.bucket,
                 "--endpoint-url", archive.stack.endpoint_url, "--json"]) == 0
    assert json.loads(archive.capsys.readouterr().out)["runs"][0]["run_id"] == result.run_id


def test_every_read_command_has_help_with_examples(capsys):
    for command in ("runs", "show", "download", "restore", "diff", "pin", "unpin", "cost"):
        assert main([command, "--help"]) == 0
        out = capsys.readouterr().out
        assert "Examples:" in out, command
        assert f"artifact-backup {command}" in out, command
