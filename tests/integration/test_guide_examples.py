"""The user guide's manual upload command lines and its four use cases, end to end.

Each test stands up its own local stack (embedded S3 server, queue, filer worker) with the guide's
bucket, runs the guide's command line exactly as written (the project folder really is
``D:/Process360_Data/projects/RMI25320``, relative to the test's working directory), and checks the
archive key by key and byte by byte.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from artifact_backup import upload_after_workflow
from artifact_backup.journal import Journal
from artifact_backup.local.sample import DROPPED_FILES, make_sample_project
from artifact_contract import ARTIFACT_TYPES
from tests.support.s3 import list_keys

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GUIDE_FOLDER = "D:/Process360_Data/projects/RMI25320"
PROJECT = "RMI25320"
TS_RE = re.compile(r"^\d{8}_\d{4}$")

ORCHESTRATOR = """\
orchestrator:
  upload_artifacts_to_s3: {upload}
  artifact_types:
{types}
"""


def write_config(where: Path, stack, *, upload: bool = True, types=("config", "logs", "report")) -> Path:
    body = ORCHESTRATOR.format(upload=str(upload).lower(), types="".join(f"    - {t}\n" for t in types))
    path = where / "config.yaml"
    path.write_text(f"schema_version: 1.2.0\n{body}\n{stack.config_block()}", encoding="utf-8")
    return path


@pytest.fixture
def workdir(tmp_path, monkeypatch, isolated_cache):
    """A working directory holding the guide's project folder, config.yaml and scripts/."""
    make_sample_project(tmp_path / "D:" / "Process360_Data" / "projects", PROJECT)
    (tmp_path / "scripts").symlink_to(REPO / "scripts")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def guide_command(workdir: Path, args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python scripts/upload_to_s3.py`` with the guide's arguments, as a user would."""
    argv = [sys.executable, "scripts/upload_to_s3.py", *args.split()]
    return subprocess.run(
        argv, cwd=workdir, capture_output=True, text=True, timeout=180, env=dict(os.environ)
    )


def expected_files(project: Path, config: Path, types) -> dict[tuple[str, str], Path]:
    """(type, relative path) -> local file, by the guide's extension table, computed independently."""
    wanted: dict[tuple[str, str], Path] = {}
    for type_name in types:
        folder = project / type_name
        for path in folder.rglob("*"):
            if not path.is_file():
                continue
            rel = path.relative_to(folder).as_posix()
            if ARTIFACT_TYPES[type_name].allows(rel):
                wanted[(type_name, rel)] = path
        if type_name == "config":
            wanted[("config", config.name)] = config
    return wanted


def archive_contents(s3, bucket: str, prefix: str) -> dict[str, bytes]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def assert_run_filed(s3, stack, project_dir: Path, config: Path, types, timestamp: str | None):
    """The archive holds exactly the expected keys for ``types``, byte-identical, and no dropped file."""
    bucket = stack.names.archive_bucket
    files = expected_files(project_dir, config, types)
    stamp = f"{timestamp}/" if timestamp else ""
    expected = {f"{PROJECT}/{t}/{stamp}{rel}": path for (t, rel), path in files.items()}
    stored = {k: v for k, v in archive_contents(s3, bucket, f"{PROJECT}/").items() if "/_runs/" not in k}
    assert set(stored) == set(expected)
    for key, path in expected.items():
        assert stored[key] == path.read_bytes(), key
    dropped = {Path(p).name for p in DROPPED_FILES}
    assert not [k for k in stored if Path(k).name in dropped]
    assert "reels" not in {k.split("/")[1] for k in stored}
    return stored


def only_timestamp(s3, stack) -> str:
    """The one run timestamp in the archive, read from the run records."""
    keys = archive_contents(s3, stack.names.archive_bucket, f"{PROJECT}/_runs/")
    stamps = {k.split("/")[2] for k in keys if "/runs/" in k}
    assert len(stamps) == 1, stamps
    (stamp,) = stamps
    assert TS_RE.match(stamp)
    return stamp


def assert_recent(stamp: str, started: datetime) -> None:
    moment = datetime.strptime(stamp, "%Y%m%d_%H%M")
    assert started - timedelta(minutes=1) <= moment <= datetime.now()


def test_upload_logs_with_timestamp(fresh_stack, workdir):
    config = write_config(workdir, fresh_stack)
    started = datetime.now()
    done = guide_command(
        workdir,
        f"--config config.yaml --folder {GUIDE_FOLDER} --project-key RMI25320 --include logs --timestamp",
    )
    assert done.returncode == 0, done.stderr
    s3 = fresh_stack.client("s3")
    stamp = only_timestamp(s3, fresh_stack)
    assert_recent(stamp, started)
    stored = assert_run_filed(s3, fresh_stack, workdir / GUIDE_FOLDER, config, ["logs"], stamp)
    assert f"s3://rmi-360-raw/RMI25320/logs/{stamp}/" in done.stdout
    assert len(stored) == 5


def test_upload_multiple_types_share_one_timestamp(fresh_stack, workdir):
    config = write_config(workdir, fresh_stack)
    done = guide_command(
        workdir,
        f"--config config.yaml --folder {GUIDE_FOLDER} --project-key RMI25320 "
        "--include config logs report --timestamp",
    )
    assert done.returncode == 0, done.stderr
    s3 = fresh_stack.client("s3")
    stamp = only_timestamp(s3, fresh_stack)
    stored = assert_run_filed(
        s3, fresh_stack, workdir / GUIDE_FOLDER, config, ["config", "logs", "report"], stamp
    )
    assert {k.split("/")[2] for k in stored} == {stamp}
    assert f"RMI25320/config/{stamp}/config.yaml" in stored
    assert f"RMI25320/report/{stamp}/assets/chart_speed.png" in stored


def test_upload_with_custom_timestamp(fresh_stack, workdir):
    config = write_config(workdir, fresh_stack)
    done = guide_command(
        workdir,
        f"--config config.yaml --folder {GUIDE_FOLDER} --project-key RMI25320 "
        "--include report --custom-timestamp 20251030_1200",
    )
    assert done.returncode == 0, done.stderr
    stored = assert_run_filed(
        fresh_stack.client("s3"), fresh_stack, workdir / GUIDE_FOLDER, config, ["report"], "20251030_1200"
    )
    assert set(stored) == {
        "RMI25320/report/20251030_1200/report.html",
        "RMI25320/report/20251030_1200/report_data_RMI25320.json",
        "RMI25320/report/20251030_1200/assets/chart_speed.png",
        "RMI25320/report/20251030_1200/assets/map.jpg",
    }


def test_custom_timestamp_report_joins_the_logs_filed_there(fresh_stack, workdir):
    """All artifacts of a run share its timestamp: the report uploaded after the logs joins them."""
    config = write_config(workdir, fresh_stack)
    logs = guide_command(workdir, f"--config config.yaml --folder {GUIDE_FOLDER} --project-key RMI25320 "
                                  "--include logs --custom-timestamp 20251030_1200")
    assert logs.returncode == 0, logs.stderr
    report = guide_command(workdir, f"--config config.yaml --folder {GUIDE_FOLDER} --project-key RMI25320 "
                                    "--include report --custom-timestamp 20251030_1200")
    assert report.returncode == 0, report.stderr
    assert_run_filed(fresh_stack.client("s3"), fresh_stack, workdir / GUIDE_FOLDER, config,
                     ["logs", "report"], "20251030_1200")


def test_upload_single_folder_type_without_timestamp(fresh_stack, workdir):
    config = write_config(workdir, fresh_stack)
    done = guide_command(
        workdir,
        f"--config config.yaml --folder {GUIDE_FOLDER}/config --project-key RMI25320 --folder-type config",
    )
    assert done.returncode == 0, done.stderr
    s3 = fresh_stack.client("s3")
    stored = {
        k: v
        for k, v in archive_contents(s3, fresh_stack.names.archive_bucket, "RMI25320/").items()
        if "/_runs/" not in k
    }
    assert set(stored) == {"RMI25320/config/settings.json", "RMI25320/config/config.yaml"}
    assert stored["RMI25320/config/config.yaml"] == config.read_bytes()
    assert (
        stored["RMI25320/config/settings.json"]
        == (workdir / GUIDE_FOLDER / "config" / "settings.json").read_bytes()
    )


def test_invalid_custom_timestamp_is_an_error_not_a_folder(fresh_stack, workdir):
    write_config(workdir, fresh_stack)
    done = guide_command(
        workdir,
        f"--config config.yaml --folder {GUIDE_FOLDER} --project-key RMI25320 "
        "--include report --custom-timestamp 20251399_9999",
    )
    assert done.returncode != 0
    assert "20251399_9999" in done.stderr
    assert not archive_contents(fresh_stack.client("s3"), fresh_stack.names.archive_bucket, "")


def test_missing_archive_bucket_uses_the_guides_words(tmp_path, workdir):
    (workdir / "config.yaml").write_text("orchestrator:\n  upload_artifacts_to_s3: true\n")
    done = guide_command(
        workdir, f"--config config.yaml --folder {GUIDE_FOLDER} --project-key RMI25320 --include logs"
    )
    assert done.returncode != 0
    assert "Missing aws.s3_bucket_raw in config" in done.stderr


USE_CASES = {
    "standard-production": (True, ("config", "logs", "report")),
    "complete-archival": (True, ("config", "logs", "report", "gis_data")),
    "logs-only": (True, ("logs",)),
}


@pytest.mark.parametrize("case", sorted(USE_CASES))
def test_use_case_after_workflow(fresh_stack, workdir, case):
    upload, types = USE_CASES[case]
    config = write_config(workdir, fresh_stack, upload=upload, types=types)
    result = upload_after_workflow(
        config,
        workdir / GUIDE_FOLDER,
        workflow_succeeded=True,
        project_key=PROJECT,
        journal=Journal(workdir / "journal"),
    )
    assert result.status == "filed", result
    s3 = fresh_stack.client("s3")
    stamp = only_timestamp(s3, fresh_stack)
    assert result.timestamp == stamp
    assert_run_filed(s3, fresh_stack, workdir / GUIDE_FOLDER, config, types, stamp)


def test_use_case_experimental_run_uploads_nothing(fresh_stack, workdir):
    config = write_config(workdir, fresh_stack, upload=False)
    result = upload_after_workflow(
        config, workdir / GUIDE_FOLDER, workflow_succeeded=True, project_key=PROJECT
    )
    assert result.status == "skipped"
    assert result.reason == "disabled"
    assert not archive_contents(fresh_stack.client("s3"), fresh_stack.names.archive_bucket, "")
    assert not archive_contents(fresh_stack.client("s3"), fresh_stack.names.staging_bucket, "incoming/")


def test_failed_workflow_uploads_nothing(fresh_stack, workdir):
    config = write_config(workdir, fresh_stack, upload=True)
    result = upload_after_workflow(
        config, workdir / GUIDE_FOLDER, workflow_succeeded=False, project_key=PROJECT
    )
    assert result.status == "skipped"
    assert result.reason == "workflow-failed"
    assert not archive_contents(fresh_stack.client("s3"), fresh_stack.names.archive_bucket, "")


# -- the same command run twice on an unchanged folder ------------------------------------------
# Repeating a command after a timeout, a lost terminal or an orchestrator's retry is ordinary: an
# identical run is answered "already filed" (exit 0, the same archive URLs), writes nothing to the
# archive and leaves nothing in staging or quarantine but its receipt. A run that differs in any
# file is still refused ``timestamp-taken``, and nothing is overwritten.

TIMESTAMPED = (f"--config config.yaml --folder {GUIDE_FOLDER} --project-key {PROJECT} "
               "--include config logs report --custom-timestamp 20250101_0101 --json")
UNTIMESTAMPED = (f"--config config.yaml --folder {GUIDE_FOLDER}/config --project-key {PROJECT} "
                 "--folder-type config --json")


def archive_versions(s3, bucket: str) -> set[tuple[str, str, str]]:
    """Every version of every archive object: equal sets mean nothing at all was written."""
    found = set()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        found |= {(v["Key"], v["VersionId"], v["ETag"]) for v in page.get("Versions", [])}
    return found


def upload(workdir, args: str) -> tuple[int, dict, str]:
    done = guide_command(workdir, args)
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}, done.stderr


def assert_repeat_is_a_no_op(fresh_stack, workdir, args: str) -> None:
    s3 = fresh_stack.client("s3")
    names = fresh_stack.names
    code, first, err = upload(workdir, args)
    assert code == 0, err
    assert first["result"]["already_filed"] is False
    before = archive_versions(s3, names.archive_bucket)

    code, again, err = upload(workdir, args)

    assert code == 0, err
    result = again["result"]
    assert result["status"] == "filed"
    assert result["already_filed"] is True
    assert result["run_id"] != first["result"]["run_id"]
    assert result["filed_run_id"] == first["result"]["run_id"]
    assert result["archive_urls"] == first["result"]["archive_urls"]
    assert (result["files"], result["bytes"]) == (first["result"]["files"], first["result"]["bytes"])
    assert archive_versions(s3, names.archive_bucket) == before
    assert list_keys(s3, names.staging_bucket, "incoming/") == []
    assert list_keys(s3, names.staging_bucket, "quarantine/") == []
    receipts = list_keys(s3, names.staging_bucket, "receipts/")
    assert f"receipts/{PROJECT}/{result['run_id']}.json" in receipts

    # Without --json, the person at the terminal is told it in words.
    done = guide_command(workdir, args.replace(" --json", ""))
    assert done.returncode == 0, done.stderr
    assert "Already filed" in done.stdout
    assert all(url in done.stdout for url in first["result"]["archive_urls"])
    assert archive_versions(s3, names.archive_bucket) == before


def test_timestamped_upload_repeated_unchanged_is_already_filed(fresh_stack, workdir):
    write_config(workdir, fresh_stack)
    assert_repeat_is_a_no_op(fresh_stack, workdir, TIMESTAMPED)


def test_untimestamped_upload_repeated_unchanged_is_already_filed(fresh_stack, workdir):
    write_config(workdir, fresh_stack)
    assert_repeat_is_a_no_op(fresh_stack, workdir, UNTIMESTAMPED)


def test_repeat_that_differs_in_one_file_is_still_refused(fresh_stack, workdir):
    write_config(workdir, fresh_stack)
    s3 = fresh_stack.client("s3")
    names = fresh_stack.names
    code, first, err = upload(workdir, TIMESTAMPED)
    assert code == 0, err
    before = archive_versions(s3, names.archive_bucket)
    log = workdir / GUIDE_FOLDER / "logs" / "process_log.txt"
    assert log.is_file()
    log.write_bytes(log.read_bytes() + b"one more line\n")

    code, refused, err = upload(workdir, TIMESTAMPED)

    assert code == 6, err
    assert refused["ok"] is False
    assert "timestamp-taken" in json.dumps(refused)
    assert archive_versions(s3, names.archive_bucket) == before
    assert list_keys(s3, names.staging_bucket, "quarantine/")
