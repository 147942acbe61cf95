"""What the commands say in the cases a new user meets: argument errors under --json, an empty type
list, links and FIFOs left out, untimestamped runs, a repeated upload, diffs across types, the
config's key, and a manual upload the config switches off."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from client_support import ARCHIVE, CONFIG_TEXT, PROJECT, STAGING, write

from artifact_backup.archive.diff import FileChange, RunDiff, TypeTotal, types_in_one_run
from artifact_backup.cli import main
from artifact_backup.cli.diff import format_diff, size_change
from artifact_backup.cli.download import format_download
from artifact_backup.cli.upload import format_result, switched_off_note
from artifact_backup.collect import EXTENSION_FILTERED, collect
from artifact_backup.config import load_config
from artifact_backup.exceptions import EXIT_INPUT, EXIT_USAGE, SelectionEmptyError
from artifact_backup.upload.types import UploadResult
from artifact_contract import RecordedFile, RunRecord, archive_key

SHA = {n: f"{n:064x}" for n in range(10)}


def _console(verbose: int = 0):
    return SimpleNamespace(verbose=verbose)


# -- argument errors under --json ---------------------------------------------------------------------


def test_an_argument_error_under_json_is_one_json_document_on_stdout(capsys):
    code = main(["upload", "--folder", ".", "--include", "log", "--json"])
    out, err = capsys.readouterr()
    assert code == EXIT_USAGE == 2
    data = json.loads(out)
    assert data["ok"] is False
    assert data["error"]["code"] == "argument-invalid"
    assert data["error"]["exit_code"] == 2
    assert "invalid choice: 'log'" in data["error"]["message"]
    assert "usage: artifact-backup upload" in err  # people still get argparse's usage on stderr


def test_a_missing_argument_and_a_missing_command_under_json(capsys):
    assert main(["download", "RMI25320", "--json"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert "the following arguments are required" in data["error"]["message"]
    assert main(["--json"]) == 2
    assert json.loads(capsys.readouterr().out)["ok"] is False


def test_an_argument_error_without_json_prints_nothing_on_stdout(capsys):
    assert main(["upload", "--folder", ".", "--include", "log"]) == 2
    assert capsys.readouterr().out == ""


# -- collecting -----------------------------------------------------------------------------------------


def test_an_empty_type_list_says_so(tmp_path):
    config = write(tmp_path / "config.yaml", CONFIG_TEXT.replace(
        "  artifact_types:\n    - config\n    - logs\n    - report\n", "  artifact_types: []\n"))
    write(tmp_path / "RMI25320" / "logs" / "a.log")
    with pytest.raises(SelectionEmptyError) as info:
        collect(tmp_path / "RMI25320", settings=load_config(config, environ={}))
    message = info.value.message
    assert message == f"nothing to upload: orchestrator.artifact_types in {config} is an empty list"
    assert "  " not in message
    assert "--include" in info.value.hint
    assert info.value.exit_code == EXIT_INPUT


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX's")
def test_broken_links_and_fifos_are_their_own_category(tmp_path, capsys):
    root = tmp_path / "RMI25320"
    write(root / "logs" / "run.log")
    write(root / "logs" / "core.dump")
    (root / "logs" / "gone.log").symlink_to(root / "logs" / "nowhere.log")
    os.mkfifo(root / "logs" / "pipe.log")
    selection = collect(root, include=["logs"])
    reasons = {d.path: d.reason for d in selection.dropped}
    selection.close()
    assert reasons == {"core.dump": EXTENSION_FILTERED, "gone.log": "broken link",
                       "pipe.log": "not a regular file: a FIFO (named pipe)"}

    config = write(tmp_path / "config.yaml", CONFIG_TEXT)
    code = main(["upload", "--config", str(config), "--folder", str(root), "--include", "logs", "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "Uploading" not in err  # a dry run sends nothing: no progress to show
    assert "2 files left out, not by the extension filter:" in out
    assert "logs/gone.log  (broken link)" in out  # named without -v
    assert "logs/pipe.log  (not a regular file: a FIFO (named pipe))" in out
    assert "1 file left out by the extension filter (-v lists them)" in out


def test_the_config_file_is_filed_as_config_yaml_whatever_its_name(tmp_path):
    root = tmp_path / "RMI25320"
    older = write(root / "config" / "config.yaml", "sigma: 1.0\n")
    write(root / "config" / "settings.json", "{}")
    used = write(tmp_path / "cfg_off.yaml", CONFIG_TEXT)
    selection = collect(root, include=["config"], config_path=used)
    try:
        files = {f.path: f for f in selection.files}
        assert sorted(files) == ["config.yaml", "settings.json"]
        assert files["config.yaml"].source == used
        assert [(d.path, d.reason) for d in selection.dropped] == [
            ("config.yaml", f"the --config file {used} is filed as config/config.yaml instead")]
        assert str(older) in selection.warnings[0]
    finally:
        selection.close()


def test_the_config_folders_own_config_yaml_used_as_config_is_filed_once(tmp_path):
    root = tmp_path / "RMI25320"
    inside = write(root / "config" / "config.yaml", CONFIG_TEXT)
    selection = collect(root, include=["config"], config_path=inside)
    try:
        assert [f.path for f in selection.files] == ["config.yaml"]
        assert selection.dropped == ()
        assert selection.warnings == ()
    finally:
        selection.close()


# -- upload's messages --------------------------------------------------------------------------------


def _filed(**kwargs) -> UploadResult:
    base = {"status": "filed", "project_key": PROJECT, "run_id": "c" * 32, "timestamp": None,
            "archive_bucket": ARCHIVE, "staging_bucket": STAGING, "types": ("logs",), "files": 2,
            "bytes": 2048, "files_per_type": {"logs": 2}}
    return UploadResult(**{**base, **kwargs})


def test_an_untimestamped_run_is_named_by_its_run_id():
    text = format_result(_filed(), _console())
    first = text.splitlines()[0]
    assert first == f"Filed run {'c' * 32} (no timestamp) of {PROJECT}: 2 files, 2.0 KiB (logs 2)"
    assert "  " not in first
    timestamped = format_result(_filed(timestamp="20251030_1430"), _console()).splitlines()[0]
    assert timestamped.startswith(f"Filed run 20251030_1430 of {PROJECT}: ")


def test_already_filed_does_not_claim_files_were_copied():
    receipt = SimpleNamespace(already_filed=True, filed_run_id="d" * 32, prefixes=(), archive_bucket=ARCHIVE)
    result = _filed(timestamp="20251030_1430", receipt=receipt, files_reused=2, bytes_reused=20 << 20)
    text = format_result(result, _console())
    assert "Nothing new was written." in text
    assert "copied in the archive" not in text
    fresh = format_result(_filed(files_reused=2, bytes_reused=20 << 20), _console())
    assert "2 large files (20.0 MiB) unchanged since an earlier run: copied in the archive, not sent" in fresh


def test_a_manual_upload_the_config_switches_off_says_it_goes_ahead(tmp_path, capsys):
    settings = SimpleNamespace(config_path=Path("cfg.yaml"))
    assert switched_off_note(settings, dry_run=False) == (
        "orchestrator.upload_artifacts_to_s3 is not true in cfg.yaml, so the workflow uploads nothing "
        "after its runs; this upload was asked for explicitly and goes ahead")
    assert switched_off_note(settings, dry_run=True).endswith("would go ahead")

    root = tmp_path / "RMI25320"
    write(root / "logs" / "a.log")
    off = write(tmp_path / "off.yaml", CONFIG_TEXT.replace("upload_artifacts_to_s3: true",
                                                           "upload_artifacts_to_s3: false"))
    on = write(tmp_path / "on.yaml", CONFIG_TEXT)
    base = ["upload", "--folder", str(root), "--include", "logs", "--dry-run", "--config"]
    assert main([*base, str(off)]) == 0
    assert "upload_artifacts_to_s3 is not true" in capsys.readouterr().err
    assert main([*base, str(on)]) == 0
    assert "upload_artifacts_to_s3" not in capsys.readouterr().err


# -- the read side ------------------------------------------------------------------------------------


def test_download_of_every_run_says_every_run():
    result = SimpleNamespace(files=[SimpleNamespace(status="downloaded")], run="all", project_key=PROJECT,
                             bytes_downloaded=10, destination=Path("out"), renamed=[],
                             count=lambda status: 1 if status == "downloaded" else 0)
    text = format_download(result)
    assert text.startswith(f"Downloaded 1 file (10 B) of every run of {PROJECT} to out")
    assert "run all" not in text
    result.files = []
    nothing = f"Nothing to download: no run of {PROJECT} has a file of the chosen types."
    assert format_download(result) == nothing


def _record(files, ts: str) -> RunRecord:
    return RunRecord(run_id="a" * 32, project_key=PROJECT, timestamp=ts, archive_bucket=ARCHIVE,
                     created_at="2025-10-30T14:30:05+00:00", files=tuple(files), uploader={})


def _file(type_name: str, path: str, size: int, sha: int, ts: str) -> RecordedFile:
    return RecordedFile(type_name, path, archive_key(PROJECT, type_name, ts, path), size, SHA[sha])


def test_diff_names_a_type_one_run_lacks_instead_of_listing_its_files_as_removed():
    ta, tb = "20251030_0900", "20251030_1430"
    a = _record([_file("logs", "a.log", 10, 1, ta), _file("gis_data", "r.shp", 3000, 2, ta),
                 _file("gis_data", "r.dbf", 100, 3, ta)], ta)
    b = _record([_file("logs", "a.log", 10, 1, tb)], tb)
    only_a, only_b = types_in_one_run(a, b)
    assert only_a == {"gis_data": TypeTotal(2, 3100)}
    assert only_b == {}
    result = RunDiff(PROJECT, "20251030_0900", "20251030_1430", None, None, unchanged={"logs": 1},
                     only_in_a=only_a, only_in_b=only_b)
    text = format_diff(result)
    assert "gis_data: not in run 20251030_1430 (2 files, 3.0 KiB in run 20251030_0900); not compared" in text
    assert "- gis_data/" not in text
    assert "identical" not in text
    assert result.to_dict()["only_in_a"] == {"gis_data": {"files": 2, "bytes": 3100}}


def test_diff_shows_exact_bytes_when_rounding_hides_the_change():
    assert size_change(50_890, 50_899) == "49.7 KiB -> 49.7 KiB: 50,890 -> 50,899 bytes"
    assert size_change(50_890, 60_000) == "49.7 KiB -> 58.6 KiB"
    assert size_change(100, 100) == "100 B, same size"
    result = RunDiff(PROJECT, "A", "B", None, None,
                     changes=[FileChange("logs", "grown.log", "changed", 50_890, 50_899, SHA[1], SHA[2])])
    assert "~ logs/grown.log  (49.7 KiB -> 49.7 KiB: 50,890 -> 50,899 bytes)" in format_diff(result)


def test_a_config_of_any_name_or_extension_is_the_runs_config_yaml(tmp_path):
    root = tmp_path / "RMI25320"
    write(root / "config" / "settings.json", "{}")
    used = write(tmp_path / "workflow settings.cfg", CONFIG_TEXT)
    selection = collect(root, include=["config"], config_path=used)
    try:
        walked = root / "config" / "settings.json"
        found = [(f.path, f.source) for f in selection.files]
        assert found == [("config.yaml", used), ("settings.json", walked)]
        assert selection.dropped == ()
    finally:
        selection.close()
