"""What a user sees, end to end on the embedded S3 server with the real filer: progress off a terminal,
the wait reading the filer's progress, untimestamped runs named, the config at the guide's key, a
diff across types, and argument errors under --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artifact_backup import Uploader, load_config
from artifact_backup.cli import main
from artifact_backup.exceptions import EXIT_OK, ReceiptTimeoutError
from artifact_backup.local.sample import make_sample_project
from artifact_backup.transfer import BaseSubscriber
from artifact_backup.upload.filer_progress import RunUnits
from artifact_contract import RunRecord

pytestmark = pytest.mark.integration

RUN_A = "20251030_0900"
RUN_B = "20251030_1430"


class Project:
    def __init__(self, stack, s3, root: Path, project_key: str, capsys) -> None:
        self.stack, self.s3, self.project, self.capsys = stack, s3, project_key, capsys
        self.bucket = stack.names.archive_bucket
        self.folder = make_sample_project(root / "projects", project_key)
        self.config = root / "config.yaml"
        self.config.write_text(f'project:\n  slug: "{project_key}"\n{stack.config_block()}', encoding="utf-8")

    def cli(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main([*argv, "--config", str(self.config)])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def upload(self, *argv: str) -> tuple[int, str, str]:
        return self.cli("upload", "--folder", str(self.folder), "--project-key", self.project, *argv)

    def record(self, stamp: str) -> RunRecord:
        """The run record of the one upload filed at ``stamp``."""
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"{self.project}/_runs/{stamp}/runs/")
        (key,) = [o["Key"] for o in listed.get("Contents", [])]
        return RunRecord.from_json(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())


@pytest.fixture
def project(local_stack, s3, tmp_path, project_key, capsys, isolated_cache) -> Project:
    return Project(local_stack, s3, tmp_path, project_key, capsys)


def test_upload_and_download_show_progress_lines_off_a_terminal(project, tmp_path):
    code, out, err = project.upload("--include", "config", "logs", "report", "--custom-timestamp", RUN_A)
    assert code == EXIT_OK, err
    lines = err.splitlines()
    uploading = [line for line in lines if line.startswith("Uploading")]
    assert uploading[0].startswith("Uploading     0% [")
    assert uploading[-1].startswith("Uploading   100% [####################]")
    assert " of " in uploading[-1]
    assert uploading[-1].endswith(" files")
    assert any(line.startswith("Filing: waiting for the filer") for line in lines)
    assert "\r" not in err  # plain lines: stderr is not a terminal
    assert out.startswith(f"Filed run {RUN_A} of {project.project}: ")

    code, out, err = project.cli("download", project.project, RUN_A, "--to", str(tmp_path / "back"))
    assert code == EXIT_OK, err
    downloading = [line for line in err.splitlines() if line.startswith("Downloading")]
    assert downloading[-1].startswith("Downloading 100% [####################]")
    assert out.startswith("Downloaded ")
    assert f"of run {RUN_A} of {project.project}" in out

    code, out, err = project.upload("--include", "logs", "--custom-timestamp", RUN_B, "--json")
    assert code == EXIT_OK, err
    assert json.loads(out)["result"]["status"] == "filed"  # one document, nothing else on stdout
    assert "Uploading" not in err  # a log read by programs gets no progress


def test_the_wait_reads_the_filers_own_progress_object(project, local_stack, s3):
    """A run the filer is part-way through: its progress object, written by the filer's own code,
    read back over HTTP while the client waits."""
    from artifact_filer.progress import ProgressState

    run_id = "e" * 32
    state = ProgressState(manifest_etag="etag", verified={"p1": "x", "p2": "y"}, filed={"p1", "reuse:logs/b"},
                          invocations=3)
    staging = local_stack.names.staging_bucket
    s3.put_object(Bucket=staging, Key=f"progress/{project.project}/{run_id}.json", Body=state.to_json())

    class Heard(BaseSubscriber):
        def __init__(self) -> None:
            self.filer = []

        def on_waiting(self, *, elapsed, filer=None, **kwargs):
            self.filer.append(filer)

    heard = Heard()
    uploader = Uploader(load_config(project.config), subscribers=[heard])
    with pytest.raises(ReceiptTimeoutError):
        uploader.wait_for_receipt(staging, project.project, run_id, timeout=1.5,
                                  units=RunUnits({"p1": 40, "p2": 2}, reused=1), pieces=2)
    seen = [f for f in heard.filer if f is not None]
    assert seen, "the wait never read the filer's progress"
    assert (seen[-1].pieces_verified, seen[-1].pieces) == (2, 2)
    assert (seen[-1].files_filed, seen[-1].files, seen[-1].invocations) == (41, 43, 3)

    missing = Heard()
    with pytest.raises(ReceiptTimeoutError):
        Uploader(load_config(project.config), subscribers=[missing]).wait_for_receipt(
            staging, project.project, "f" * 32, timeout=1.0)
    assert missing.filer
    assert all(f is None for f in missing.filer)


def test_an_untimestamped_run_is_named_by_its_run_id(project):
    code, out, err = project.upload("--include", "logs")
    assert code == EXIT_OK, err
    first = out.splitlines()[0]
    assert "(no timestamp)" in first
    assert "  " not in first
    code, out, _ = project.upload("--include", "logs")
    assert code == EXIT_OK
    assert "Nothing new was written." in out
    assert "copied in the archive" not in out


def test_the_config_used_is_at_the_guides_key_whatever_its_name(project, tmp_path):
    folder_config = project.folder / "config" / "config.yaml"
    folder_config.write_text("older: settings\n", encoding="utf-8")
    used = tmp_path / "cfg_off.yaml"
    used.write_text(project.config.read_text(encoding="utf-8") + "enhance:\n  sigma: 2.0\n", encoding="utf-8")
    project.capsys.readouterr()
    code = main(["upload", "--config", str(used), "--folder", str(project.folder), "--project-key",
                 project.project, "--include", "config", "--custom-timestamp", RUN_A])
    out, err = project.capsys.readouterr()
    assert code == EXIT_OK, err
    key = f"{project.project}/config/{RUN_A}/config.yaml"
    assert project.s3.get_object(Bucket=project.bucket, Key=key)["Body"].read() == used.read_bytes()
    paths = {f.path for f in project.record(RUN_A).files if f.type == "config"}
    assert "cfg_off.yaml" not in paths
    assert f"{folder_config} is not uploaded" in err
    assert "config/config.yaml  (the --config file" in out


def test_diff_across_types_names_the_missing_type(project):
    grown = project.folder / "logs" / "grown.log"
    grown.write_bytes(b"x" * 50_890)
    assert project.upload("--include", "logs", "report", "--custom-timestamp", RUN_A)[0] == EXIT_OK
    grown.write_bytes(b"x" * 50_899)  # 9 bytes more: 49.7 KiB either way
    assert project.upload("--include", "logs", "--custom-timestamp", RUN_B)[0] == EXIT_OK
    code, out, err = project.cli("diff", project.project, RUN_A, RUN_B)
    assert code == EXIT_OK, err
    assert f"report: not in run {RUN_B} (" in out
    assert "- report/" not in out
    assert "~ logs/grown.log  (49.7 KiB -> 49.7 KiB: 50,890 -> 50,899 bytes)" in out


def test_argument_errors_under_json_are_json(project):
    code, out, _ = project.upload("--include", "log", "--json")
    assert code == 2
    assert json.loads(out)["error"]["exit_code"] == 2
    code, out, _ = project.cli("verify", project.project, "--json", "--bogus")
    assert code == 2
    assert json.loads(out)["ok"] is False
