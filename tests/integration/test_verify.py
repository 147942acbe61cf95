"""``artifact-backup verify`` end to end: runs filed by the real client and filer on the embedded S3
server, then the archive changed behind the filer's back (an object overwritten, one deleted, one
added) and read back through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artifact_backup import backup_run, load_config
from artifact_backup.archive.verify import verify
from artifact_backup.cli import main
from artifact_backup.exceptions import EXIT_CORRUPT, EXIT_NOT_FOUND, EXIT_OK
from artifact_backup.local.sample import make_sample_project
from artifact_contract import RunRecord

pytestmark = pytest.mark.integration

RUN_A = "20251030_0900"
RUN_B = "20251030_1430"


@pytest.fixture
def project(local_stack, s3, tmp_path: Path, project_key: str, isolated_cache):
    folder = make_sample_project(tmp_path / "projects", project_key)
    config = tmp_path / "config.yaml"
    config.write_text(f'project:\n  slug: "{project_key}"\n{local_stack.config_block()}', encoding="utf-8")
    for stamp in (RUN_A, RUN_B):
        result = backup_run(folder, settings=load_config(config), project_key=project_key,
                            include=["config", "logs", "report", "gis_data"], timestamp=stamp,
                            config_path=config)
        assert result.status == "filed"
    return project_key, config


def _record_key(s3, bucket: str, project_key: str, stamp: str) -> str:
    """The one upload's record at ``stamp`` (``_runs/{ts}/runs/{run_id}.json``)."""
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{project_key}/_runs/{stamp}/runs/")
    (key,) = [o["Key"] for o in listed.get("Contents", [])]
    return key


def _record(s3, bucket: str, project_key: str, stamp: str) -> RunRecord:
    raw = s3.get_object(Bucket=bucket, Key=_record_key(s3, bucket, project_key, stamp))["Body"].read()
    return RunRecord.from_json(raw)


def _cli(capsys, config: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["verify", *argv, "--config", str(config)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_an_untouched_run_verifies(project, capsys):
    project_key, config = project
    code, out, err = _cli(capsys, config, project_key, RUN_B)
    assert code == EXIT_OK, err
    assert f"Run {RUN_B} of {project_key}: OK" in out
    assert "everything matches its run record" in out

    code, out, _ = _cli(capsys, config, project_key, "--json")
    data = json.loads(out)
    assert code == EXIT_OK
    assert data["ok"] is True
    assert data["runs_checked"] == 2
    assert data["counts"] == {"missing": 0, "different": 0, "extra": 0, "record-invalid": 0}
    assert data["files_verified"] == sum(r["files"] for r in data["runs"]) > 10


def test_tampered_deleted_and_extra_objects_are_reported(project, local_stack, s3, capsys):
    project_key, config = project
    bucket = local_stack.names.archive_bucket
    record = _record(s3, bucket, project_key, RUN_B)
    by_path = {f"{f.type}/{f.path}": f for f in record.files}
    tampered = by_path["logs/process_log.txt"]
    deleted = by_path["report/report.html"]
    same_size = s3.get_object(Bucket=bucket, Key=tampered.key)["Body"].read().replace(b"ok", b"KO")
    s3.put_object(Bucket=bucket, Key=tampered.key, Body=same_size,
                  Metadata={"sha256": tampered.sha256})  # the metadata still claims the old checksum
    s3.delete_object(Bucket=bucket, Key=deleted.key)
    extra = f"{project_key}/logs/{RUN_B}/sneaked_in.log"
    s3.put_object(Bucket=bucket, Key=extra, Body=b"not filed by the filer\n")
    stray_type = f"{project_key}/gis_data/{RUN_B}/stray.gpkg"  # under another type's folder
    s3.put_object(Bucket=bucket, Key=stray_type, Body=b"x")

    code, out, err = _cli(capsys, config, project_key, RUN_B)
    assert code == EXIT_CORRUPT
    assert f"Run {RUN_B} of {project_key}: PROBLEMS" in out
    assert "error: the archive differs from the run records" in err
    for key in (tampered.key, deleted.key, extra, stray_type):
        assert key in out

    code, out, _ = _cli(capsys, config, project_key, "--json")
    assert code == EXIT_CORRUPT
    data = json.loads(out)
    assert data["ok"] is False
    assert data["error"]["code"] == "verify-failed"
    assert data["error"]["exit_code"] == EXIT_CORRUPT
    result = data["result"]
    assert result["counts"] == {"missing": 1, "different": 1, "extra": 2, "record-invalid": 0}
    runs = {r["run"]: r for r in result["runs"]}
    assert runs[RUN_A]["ok"] is True
    problems = {p["key"]: p for p in runs[RUN_B]["problems"]}
    assert problems[tampered.key]["problem"] == "different"
    assert problems[tampered.key]["expected_sha256"] == tampered.sha256
    assert problems[tampered.key]["actual_sha256"] != tampered.sha256
    assert problems[tampered.key]["actual_size"] == tampered.size
    assert problems[tampered.key]["detail"] == "its SHA-256 differs from the run record"
    assert problems[deleted.key]["problem"] == "missing"
    assert problems[extra]["problem"] == "extra"
    assert runs[RUN_B]["files_verified"] == runs[RUN_B]["files"] - 2


def test_library_call_reads_every_byte_once(project, local_stack, s3):
    project_key, _ = project
    bucket = local_stack.names.archive_bucket
    result = verify(s3, bucket, project_key, RUN_A, workers=4, chunk=4096)
    record = _record(s3, bucket, project_key, RUN_A)
    assert result.ok
    assert [r.label for r in result.runs] == [RUN_A]
    assert result.bytes_read == record.bytes
    assert result.files_verified == len(record.files)


def test_a_damaged_run_record_is_reported(project, local_stack, s3, capsys):
    project_key, config = project
    bucket = local_stack.names.archive_bucket
    s3.put_object(Bucket=bucket, Key=_record_key(s3, bucket, project_key, RUN_A), Body=b"{not json")
    code, out, _ = _cli(capsys, config, project_key, "--json")
    assert code == EXIT_CORRUPT
    result = json.loads(out)["result"]
    assert result["counts"]["record-invalid"] == 1
    assert [r["run"] for r in result["runs"]] == [RUN_B]


def test_an_unknown_run_or_project_exits_not_found(project, capsys):
    project_key, config = project
    code, _, err = _cli(capsys, config, project_key, "20200101_0000")
    assert code == EXIT_NOT_FOUND
    assert "no run 20200101_0000" in err
    code, _, err = _cli(capsys, config, f"{project_key}-none")
    assert code == EXIT_NOT_FOUND
    assert "has no run in the archive" in err
