"""The guide's "upload single folder type without timestamp", run twice with a changed settings.json:
the keys hold the latest copy, and the first run stays listed, shown, downloadable and verifiable
with its own bytes, through the versions its run record names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from artifact_backup.cli import main
from artifact_backup.local.sample import make_sample_project
from artifact_contract import RunRecord, run_record_key

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GUIDE_FOLDER = "D:/Process360_Data/projects/RMI25320"
PROJECT = "RMI25320"
# The guide's example, word for word, with --json for the test to read.
UNTIMESTAMPED = (f"--config config.yaml --folder {GUIDE_FOLDER}/config --project-key RMI25320 "
                 "--folder-type config --json")
SETTINGS_KEY = f"{PROJECT}/config/settings.json"


@pytest.fixture
def workdir(tmp_path, monkeypatch, isolated_cache, fresh_stack):
    """The guide's project folder, a config.yaml pointing at the stack, and scripts/."""
    make_sample_project(tmp_path / "D:" / "Process360_Data" / "projects", PROJECT)
    (tmp_path / "scripts").symlink_to(REPO / "scripts")
    (tmp_path / "config.yaml").write_text(
        "schema_version: 1.2.0\norchestrator:\n  upload_artifacts_to_s3: true\n  artifact_types:\n"
        f"    - config\n\n{fresh_stack.config_block()}", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def upload(workdir: Path) -> dict:
    done = subprocess.run([sys.executable, "scripts/upload_to_s3.py", *UNTIMESTAMPED.split()], cwd=workdir,
                          capture_output=True, text=True, timeout=180, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)["result"]
    assert result["status"] == "filed"
    assert result["already_filed"] is False
    return result


def cli(capsys, workdir: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([*argv, "--config", str(workdir / "config.yaml")])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cli_json(capsys, workdir: Path, *argv: str) -> dict:
    code, out, err = cli(capsys, workdir, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def two_runs(fresh_stack, workdir):
    """The example run twice, settings.json changed in between: (first, second) run ids and bytes."""
    settings = workdir / GUIDE_FOLDER / "config" / "settings.json"
    old = settings.read_bytes()
    first = upload(workdir)["run_id"]
    new = old.replace(b"}", b', "sigma": 2.5}', 1) if b"}" in old else old + b"\n"
    assert new != old
    settings.write_bytes(new)
    second = upload(workdir)["run_id"]
    return first, second, old, new


def record(fresh_stack, run_id: str) -> RunRecord:
    s3 = fresh_stack.client("s3")
    raw = s3.get_object(Bucket=fresh_stack.names.archive_bucket,
                        Key=run_record_key(PROJECT, None, run_id))["Body"].read()
    return RunRecord.from_json(raw)


def test_the_latest_copy_is_at_the_key_and_each_record_names_its_version(fresh_stack, two_runs):
    first, second, old, new = two_runs
    s3 = fresh_stack.client("s3")
    bucket = fresh_stack.names.archive_bucket
    assert s3.get_object(Bucket=bucket, Key=SETTINGS_KEY)["Body"].read() == new
    for run_id, expected in ((first, old), (second, new)):
        files = {f.key: f for f in record(fresh_stack, run_id).files}
        assert all(f.version_id for f in files.values())
        version = files[SETTINGS_KEY].version_id
        assert s3.get_object(Bucket=bucket, Key=SETTINGS_KEY, VersionId=version)["Body"].read() == expected


def test_runs_and_show_list_both_runs_and_say_what_was_superseded(fresh_stack, workdir, two_runs, capsys):
    first, second, _, _ = two_runs
    runs = {r["run_id"]: r for r in cli_json(capsys, workdir, "runs", PROJECT)["runs"]}
    assert set(runs) == {first, second}
    superseded = {s["key"]: s for s in runs[first]["superseded"]}
    assert set(superseded) == {SETTINGS_KEY, f"{PROJECT}/config/config.yaml"}
    assert {s["superseded_by"] for s in superseded.values()} == {second}
    assert superseded[SETTINGS_KEY]["same_content"] is False
    assert superseded[f"{PROJECT}/config/config.yaml"]["same_content"] is True
    assert all(s["readable"] for s in superseded.values())
    assert runs[second]["superseded"] == []
    # The first run's files are where its record says: its own versions, still stored.
    assert runs[first]["storage"] == {"STANDARD": 2}

    code, out, _ = cli(capsys, workdir, "runs", PROJECT)
    assert code == 0
    assert f"{first}: 2 files superseded by run {second}" in out

    shown = cli_json(capsys, workdir, "show", PROJECT, first)
    assert {s["key"] for s in shown["superseded"]} == set(superseded)
    listed = {f["key"]: f for f in shown["file_list"]}
    assert listed[SETTINGS_KEY]["superseded_by"] == second
    assert listed[SETTINGS_KEY]["version_id"] == superseded[SETTINGS_KEY]["version_id"]
    code, out, _ = cli(capsys, workdir, "show", PROJECT, first)
    assert code == 0
    assert f"config/settings.json: superseded by run {second} (new content)" in out


def test_each_run_downloads_and_verifies_its_own_bytes(fresh_stack, workdir, two_runs, capsys, tmp_path):
    first, second, old, new = two_runs
    for run_id, expected in ((first, old), (second, new)):
        target = tmp_path / f"restored-{run_id}"
        code, _, err = cli(capsys, workdir, "download", PROJECT, run_id, "--to", str(target))
        assert code == 0, err
        assert (target / "config" / "settings.json").read_bytes() == expected
        assert (target / "config" / "config.yaml").read_bytes() == (workdir / "config.yaml").read_bytes()

        checked = cli_json(capsys, workdir, "verify", PROJECT, run_id)
        assert checked["ok"] is True
        (run,) = checked["runs"]
        assert run["files_verified"] == 2


def test_verifying_the_project_passes_and_reports_the_superseding(fresh_stack, workdir, two_runs, capsys):
    first, second, _, _ = two_runs
    code, out, err = cli(capsys, workdir, "verify", PROJECT)
    assert code == 0, err
    assert f"config/settings.json: superseded by run {second}" in out
    assert "everything matches its run record" in out

    checked = cli_json(capsys, workdir, "verify", PROJECT)
    assert checked["ok"] is True
    runs = {r["run_id"]: r for r in checked["runs"]}
    assert runs[first]["files_verified"] == 2
    assert {s["superseded_by"] for s in runs[first]["superseded"]} == {second}
    assert runs[second]["superseded"] == []


def test_pinning_the_first_run_tags_its_own_versions(fresh_stack, workdir, two_runs, capsys):
    first, _, _, _ = two_runs
    code, _, err = cli(capsys, workdir, "pin", PROJECT, first, "--note", "the accepted settings")
    assert code == 0, err
    s3 = fresh_stack.client("s3")
    bucket = fresh_stack.names.archive_bucket
    version = next(f.version_id for f in record(fresh_stack, first).files if f.key == SETTINGS_KEY)

    def retention(**version_id: str) -> str:
        tags = s3.get_object_tagging(Bucket=bucket, Key=SETTINGS_KEY, **version_id)["TagSet"]
        return {t["Key"]: t["Value"] for t in tags}["artifact-backup:retention"]

    assert retention(VersionId=version) == "pinned"
    assert retention() == "standard"  # the second run's copy, not pinned


def test_a_record_older_than_version_ids_still_verifies_and_says_what_it_can(
    fresh_stack, workdir, two_runs, capsys
):
    first, second, _, _ = two_runs
    s3 = fresh_stack.client("s3")
    bucket = fresh_stack.names.archive_bucket
    key = run_record_key(PROJECT, None, first)
    data = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    for f in data["files"]:
        del f["version_id"]
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(data).encode())

    checked = cli_json(capsys, workdir, "verify", PROJECT)
    assert checked["ok"] is True
    runs = {r["run_id"]: r for r in checked["runs"]}
    assert runs[first]["counts"]["different"] == 0
    assert {(s["superseded_by"], s["readable"]) for s in runs[first]["superseded"]} == {(second, False)}
    code, out, _ = cli(capsys, workdir, "verify", PROJECT)
    assert code == 0
    assert "predates version ids" in out
    # Its download cannot give its own bytes back, and says why instead of only "damaged".
    code, _, err = cli(capsys, workdir, "download", PROJECT, first, "--to", str(workdir / "old"))
    assert code == 9
    assert f"superseded by run {second}" in err
    assert not (workdir / "old" / "config" / "settings.json").exists()


def test_without_versioning_a_replacing_upload_is_refused_and_nothing_is_overwritten(
    fresh_stack, workdir
):
    s3 = fresh_stack.client("s3")
    bucket = fresh_stack.names.archive_bucket
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    settings = workdir / GUIDE_FOLDER / "config" / "settings.json"
    old = settings.read_bytes()
    upload(workdir)
    settings.write_bytes(old + b"\n")

    done = subprocess.run([sys.executable, "scripts/upload_to_s3.py", *UNTIMESTAMPED.split()], cwd=workdir,
                          capture_output=True, text=True, timeout=180, env=dict(os.environ))

    assert done.returncode == 6, done.stderr
    assert "archive-unversioned" in done.stdout + done.stderr
    assert "nable versioning on the archive bucket" in done.stdout + done.stderr
    assert s3.get_object(Bucket=bucket, Key=SETTINGS_KEY)["Body"].read() == old


def test_diff_reads_each_run_s_own_settings(fresh_stack, workdir, two_runs, capsys):
    first, second, old, new = two_runs
    result = cli_json(capsys, workdir, "diff", PROJECT, first, second)["result"]
    (change,) = [c for c in result["config"] if c["path"] == "settings.json"]
    assert change["status"] == "changed"
    removed = [line[1:] for line in change["diff"].splitlines() if line.startswith("-") and
               not line.startswith("---")]
    added = [line[1:] for line in change["diff"].splitlines() if line.startswith("+") and
             not line.startswith("+++")]
    assert removed == old.decode().splitlines()
    assert added == new.decode().splitlines()
