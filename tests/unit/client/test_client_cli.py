"""The command line: the guide's command lines, exit codes, --json, the script shim."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from client_support import ARCHIVE, PROJECT, STAGING, write

import artifact_backup.upload as upload_module
from artifact_backup import RunRefusedError
from artifact_backup.cli import build_parser, main
from artifact_backup.cli._console import Console
from artifact_backup.exceptions import CredentialsMissingError
from artifact_contract import Receipt

REPO = Path(__file__).resolve().parents[3]

GUIDE_COMMANDS = [
    "--config config.yaml --folder D:/Process360_Data/projects/RMI25320 --project-key RMI25320 "
    "--include logs --timestamp",
    "--config config.yaml --folder D:/Process360_Data/projects/RMI25320 --project-key RMI25320 "
    "--include config logs report --timestamp",
    "--config config.yaml --folder D:/Process360_Data/projects/RMI25320 --project-key RMI25320 "
    "--include report --custom-timestamp 20251030_1200",
    "--config config.yaml --folder D:/Process360_Data/projects/RMI25320/config --project-key RMI25320 "
    "--folder-type config",
]


def parse(argv: str):
    parser, _ = build_parser()
    return parser.parse_args(["upload", *shlex.split(argv)])


def test_guide_command_lines_parse():
    a, b, c, d = (parse(cmd) for cmd in GUIDE_COMMANDS)
    assert (a.config, a.project_key) == ("config.yaml", PROJECT)
    assert a.folder == "D:/Process360_Data/projects/RMI25320"
    assert (a.include, a.timestamp, a.custom_timestamp, a.folder_type) == (["logs"], True, None, None)
    assert b.include == ["config", "logs", "report"]
    assert b.timestamp is True
    assert (c.include, c.timestamp, c.custom_timestamp) == (["report"], False, "20251030_1200")
    assert (d.folder, d.folder_type, d.include, d.timestamp) == (
        "D:/Process360_Data/projects/RMI25320/config", "config", None, False
    )
    assert (a.no_wait, a.dry_run, a.wait_timeout, a.json, a.verbose) == (False, False, None, False, 0)


def test_shared_options_parse():
    args = parse("--folder x --json --profile p --region eu-west-1 --endpoint-url http://h:1 -vv --no-wait "
                 "--wait-timeout 5 --dry-run")
    assert (args.json, args.profile, args.region, args.endpoint_url, args.verbose) == (
        True, "p", "eu-west-1", "http://h:1", 2
    )
    assert (args.no_wait, args.wait_timeout, args.dry_run) == (True, 5.0, True)


@pytest.mark.parametrize(
    "argv",
    [
        "upload --folder x --timestamp --custom-timestamp 20251030_1200",
        "upload --folder x --include logs --folder-type logs",
        "upload --folder x --include reels",
        "upload",
        "",
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    assert main(shlex.split(argv)) == 2


def test_help_exits_0(capsys):
    assert main(["upload", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--custom-timestamp 20251030_1200" in out
    assert "Examples:" in out


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_guide_windows_folder_on_posix_exits_4(config_file, capsys):
    if os.name == "nt":
        pytest.skip("a drive path exists on Windows")
    argv = shlex.split(GUIDE_COMMANDS[0].replace("config.yaml", str(config_file)))
    code, out, err = run_cli(["upload", *argv], capsys)
    assert code == 4
    assert "error: folder not found: D:/Process360_Data/projects/RMI25320" in err
    assert out == ""


def test_missing_bucket_key_exits_2_with_the_guides_message(tmp_path, project, capsys):
    config = write(tmp_path / "c.yaml", "orchestrator: {}\n")
    code, _, err = run_cli(["upload", "--config", str(config), "--folder", str(project), "--project-key",
                            PROJECT, "--dry-run"], capsys)
    assert code == 2
    assert "error: Missing aws.s3_bucket_raw in config" in err


def test_nothing_to_upload_exits_4(tmp_path, config_file, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(["upload", "--config", str(config_file), "--folder", str(tmp_path / "empty"),
                            "--include", "logs"], capsys)
    assert code == 4
    assert "nothing to upload" in err


def test_dry_run_text_and_json(project, config_file, capsys):
    base = ["upload", "--config", str(config_file), "--folder", str(project), "--dry-run"]
    code, out, _ = run_cli([*base, "--custom-timestamp", "20251030_1200", "-v"], capsys)
    assert code == 0
    assert out.startswith("Dry run, nothing sent. Would upload 9 files")
    assert f"s3://{ARCHIVE}/{PROJECT}/logs/20251030_1200/" in out
    assert "logs/core.dump  (extension not kept for this type)" in out

    code, out, _ = run_cli([*base, "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["ok"] is True
    assert data["command"] == "upload"
    result = data["result"]
    assert result["status"] == "dry-run"
    assert result["files_per_type"] == {"config": 2, "logs": 4, "report": 3}
    assert result["timestamp"] is None
    assert result["archive_urls"] == [f"s3://{ARCHIVE}/{PROJECT}/{t}/" for t in ("config", "logs", "report")]
    assert {d["path"] for d in result["dropped"]} == {"core.dump", "notes.docx"}
    assert set(result["plan"]) == {"packs", "blobs"}


def test_upload_no_wait_prints_where_it_will_be_filed(project, config_file, s3, capsys, isolated_cache):
    code, out, _ = run_cli(["upload", "--config", str(config_file), "--folder", str(project), "--include",
                            "logs", "--custom-timestamp", "20251030_1200", "--no-wait"], capsys)
    assert code == 0
    assert out.startswith("Committed run ")
    assert f"  s3://{ARCHIVE}/{PROJECT}/logs/20251030_1200/" in out
    staged = s3.list_objects_v2(Bucket=STAGING, Prefix=f"incoming/{PROJECT}/")["Contents"]
    assert any(o["Key"].endswith("manifest.json") for o in staged)


def test_receipt_timeout_exits_7(project, config_file, s3, capsys, isolated_cache):
    code, out, err = run_cli(["upload", "--config", str(config_file), "--folder", str(project),
                              "--include", "logs", "--wait-timeout", "0", "--json"], capsys)
    assert code == 7
    data = json.loads(out)
    assert data["ok"] is False
    assert data["error"]["code"] == "receipt-timeout"
    assert data["error"]["run_id"]
    assert "re-run the same command" in err


def test_refused_run_exits_6_with_reason(project, config_file, s3, capsys, monkeypatch, isolated_cache):
    receipt = Receipt(run_id="0" * 32, project_key=PROJECT, status="refused", code="piece-corrupt",
                      reason="pack packs/ab.tar.gz has the wrong SHA-256")

    def refuse(self, *args, **kwargs):
        raise RunRefusedError("the filer refused run 000 of RMI25320: bad pack (piece-corrupt)",
                              receipt=receipt)

    monkeypatch.setattr(upload_module.Uploader, "backup", refuse)
    code, out, err = run_cli(["upload", "--config", str(config_file), "--folder", str(project), "--json"],
                             capsys)
    assert code == 6
    assert "error: the filer refused run" in err
    error = json.loads(out)["error"]
    assert error["refusal_code"] == "piece-corrupt"
    assert error["reason"] == "pack packs/ab.tar.gz has the wrong SHA-256"


def test_missing_bucket_exits_5_with_checklist(project, config_file, s3, capsys, isolated_cache):
    s3.delete_bucket(Bucket=STAGING)
    code, _, err = run_cli(["upload", "--config", str(config_file), "--folder", str(project)], capsys)
    assert code == 5
    assert "error: Failed to upload artifacts to S3: s3://rmi-360-raw-staging does not exist" in err
    assert "4. Network connectivity to AWS" in err


def test_stray_aws_errors_are_translated(project, config_file, capsys, monkeypatch):
    from botocore.exceptions import NoCredentialsError

    def boom(self, *args, **kwargs):
        raise NoCredentialsError()

    monkeypatch.setattr(upload_module.Uploader, "backup", boom)
    code, _, err = run_cli(["upload", "--config", str(config_file), "--folder", str(project)], capsys)
    assert code == 5
    assert "error: Failed to upload artifacts to S3: no AWS credentials found" in err


def test_error_json_shape(capsys):
    console = Console(json_output=True)
    console.error(CredentialsMissingError("no AWS credentials found"))
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data == {
        "ok": False,
        "error": {
            "type": "CredentialsMissingError",
            "code": "credentials-missing",
            "message": "Failed to upload artifacts to S3: no AWS credentials found",
            "hint": data["error"]["hint"],
            "exit_code": 5,
        },
    }
    assert "1. AWS credentials are configured" in data["error"]["hint"]
    assert err.startswith("error: Failed to upload artifacts to S3")


def script_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["XDG_CACHE_HOME"] = str(REPO / ".pytest_cache" / "xdg")
    return env


def test_script_runs_without_install(project, config_file):
    help_run = subprocess.run([sys.executable, "scripts/upload_to_s3.py", "--help"], cwd=REPO,
                              env=script_env(), capture_output=True, text=True, timeout=60)
    assert help_run.returncode == 0, help_run.stderr
    assert help_run.stdout.startswith("usage: upload_to_s3.py")
    dry = subprocess.run(
        [sys.executable, "scripts/upload_to_s3.py", "--config", str(config_file), "--folder", str(project),
         "--project-key", PROJECT, "--include", "config", "logs", "report", "--timestamp", "--dry-run",
         "--json"],
        cwd=REPO, env=script_env(), capture_output=True, text=True, timeout=60,
    )
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["result"]["files"] == 9


def test_help_does_not_import_boto3():
    code = ("import sys; from artifact_backup.cli import main; rc = main(['upload', '--help']); "
            "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, 'boto3 imported'")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO / p) for p in ("contract", "client"))}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr


def test_python_dash_m(project, config_file):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO / p) for p in ("contract", "client"))}
    run = subprocess.run([sys.executable, "-m", "artifact_backup", "--version"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0
    assert "0.1.0" in run.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["upload", "--folder", "p", "--include", "logs", "report", "--timestamp", "--no-wait", "--json"],
        ["runs", "RMI25320", "--no-storage"],
        ["download", "RMI25320", "20251030_1430", "--to", "out", "--include", "logs"],
    ],
)
def test_a_command_alone_parses_as_the_whole_command_line(argv):
    """Only the command named is registered when one is: its parse must not change."""
    from artifact_backup.cli import build_parser

    whole, _ = build_parser()
    alone, commands = build_parser(only=argv[0])
    assert list(commands.choices) == [argv[0]]
    expected, got = vars(whole.parse_args(argv)), vars(alone.parse_args(argv))
    assert expected.keys() == got.keys()
    assert {k: v for k, v in expected.items() if k != "run"} == {k: v for k, v in got.items() if k != "run"}
