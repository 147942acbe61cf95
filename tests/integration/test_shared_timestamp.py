"""One run per timestamp, uploaded in parts: the guide's report uploaded at the timestamp its logs
were filed under joins them, and every reader shows one run with all its types and which upload
brought each. A type already there is refused; the same upload again is already filed; a refused
upload blocks nothing. An upload without a timestamp never reaches a timestamped run's folder.

Through the client and the CLI, against the embedded S3 server, its queue and the filer.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from artifact_backup import backup_run, load_config
from artifact_backup.cli import main
from artifact_backup.exceptions import EXIT_INPUT, FileNameInvalidError, RunRefusedError
from artifact_backup.local.sample import make_sample_project
from artifact_contract import Claim, RunRecord, run_record_key, type_claim_key
from artifact_filer import FilerConfig, stale
from tests.support.s3 import list_keys

pytestmark = pytest.mark.integration

TS = "20251030_1200"
OTHER = "20251031_0900"


class Project:
    def __init__(self, stack, s3, root: Path, key: str, capsys) -> None:
        self.stack, self.s3, self.key, self.capsys = stack, s3, key, capsys
        self.bucket = stack.names.archive_bucket
        self.folder = make_sample_project(root / "projects", key)
        self.config = root / "config.yaml"
        self.config.write_text(f'schema_version: 1.2.0\nproject:\n  slug: "{key}"\n{stack.config_block()}',
                               encoding="utf-8")

    def file(self, timestamp: str | bool, *include: str, folder: Path | None = None, **kwargs):
        return backup_run(folder or self.folder, settings=load_config(self.config), project_key=self.key,
                          include=list(include) if include else None, timestamp=timestamp, **kwargs)

    def cli(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main([*argv, "--config", str(self.config)])
        out = self.capsys.readouterr()
        return code, out.out, out.err

    def cli_json(self, *argv: str) -> dict:
        code, out, err = self.cli(*argv, "--json")
        assert code == 0, err
        return json.loads(out)

    def local(self, type_name: str, path: str) -> bytes:
        if type_name == "config" and path == self.config.name:
            return self.config.read_bytes()
        return (self.folder / type_name / path).read_bytes()


@pytest.fixture
def project(local_stack, s3, tmp_path, project_key, isolated_cache, capsys) -> Project:
    return Project(local_stack, s3, tmp_path, project_key, capsys)


def test_the_guides_report_joins_the_logs_at_their_timestamp(project: Project, tmp_path):
    logs = project.file(TS, "logs")
    report = project.file(TS, "report")  # the guide: --include report --custom-timestamp 20251030_1200
    assert report.status == "filed"
    assert report.timestamp == TS
    assert report.run_id != logs.run_id

    listing = project.cli_json("runs", project.key)
    (run,) = listing["runs"]
    assert run["run"] == TS
    assert run["types"] == ["logs", "report"]
    # Oldest first by the time each was created (two in one second: by run id).
    assert {u["run_id"]: u["types"] for u in run["uploads"]} == {
        logs.run_id: ["logs"], report.run_id: ["report"]}
    code, out, _ = project.cli("runs", project.key)
    assert code == 0
    assert "1 run of" in out
    assert "(2 uploads)" in out

    shown = project.cli_json("show", project.key, TS)
    by_type = {f["type"]: set() for f in shown["file_list"]}
    for f in shown["file_list"]:
        by_type[f["type"]].add(f["upload_run_id"])
    assert by_type == {"logs": {logs.run_id}, "report": {report.run_id}}
    assert shown["files"] == logs.files + report.files
    code, out, _ = project.cli("show", project.key, TS)
    assert code == 0
    assert logs.run_id in out
    assert report.run_id in out
    # Named by either upload's run id, it is the same one run.
    assert project.cli_json("show", project.key, report.run_id[:10])["run"] == TS

    target = tmp_path / "restored"
    code, _, err = project.cli("download", project.key, TS, "--to", str(target))
    assert code == 0, err
    got = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    expected = {f"{f['type']}/{f['path']}" for f in shown["file_list"]}
    assert {g.split("/", 1)[1] if g.startswith(TS + "/") else g for g in got} == expected
    for f in shown["file_list"]:
        found = next(target.rglob(Path(f["path"]).name))
        assert hashlib.sha256(found.read_bytes()).hexdigest() == f["sha256"]

    code, out, err = project.cli("verify", project.key)
    assert code == 0, out + err
    # Pinned as one run: every upload's files.
    code, _, err = project.cli("pin", project.key, TS, "--note", "final")
    assert code == 0, err
    for f in shown["file_list"]:
        tags = project.s3.get_object_tagging(Bucket=project.bucket, Key=f["key"])["TagSet"]
        assert {"Key": "artifact-backup:retention", "Value": "pinned"} in tags, f["key"]
    project.file(OTHER, "logs", "report")
    code, out, err = project.cli("diff", project.key, TS, OTHER)
    assert code == 0, err


def test_a_type_already_at_the_timestamp_is_refused_and_blocks_nothing(project: Project):
    project.file(TS, "logs")
    with pytest.raises(RunRefusedError) as refused:
        project.file(TS, "config", "logs")
    assert refused.value.receipt.code == "timestamp-taken"
    assert "logs" in refused.value.receipt.reason
    # config was claimed then given back: the config alone joins the timestamp.
    config = project.file(TS, "config")
    assert config.status == "filed"
    claim = json.loads(project.s3.get_object(Bucket=project.bucket,
                                             Key=type_claim_key(project.key, TS, "config"))["Body"].read())
    assert claim["run_id"] == config.run_id
    assert project.cli_json("show", project.key, TS)["types"] == ["config", "logs"]


def test_the_same_upload_again_is_already_filed(project: Project):
    project.file(TS, "logs")
    first = project.file(TS, "report")
    again = project.file(TS, "report")
    assert again.status == "filed"
    assert again.receipt.already_filed
    assert again.receipt.filed_run_id == first.run_id


def test_an_untimestamped_folder_named_like_a_timestamp_is_refused_before_sending(project: Project):
    project.file(TS, "config")
    stamped_key = f"{project.key}/config/{TS}/config.yaml"
    before = project.s3.head_object(Bucket=project.bucket, Key=stamped_key)
    config_folder = project.folder / "config"
    (config_folder / TS).mkdir()
    (config_folder / TS / "config.yaml").write_text("overwrite: me\n", encoding="utf-8")

    with pytest.raises(FileNameInvalidError) as refused:
        project.file(False, folder=config_folder, folder_type="config")
    assert refused.value.exit_code == EXIT_INPUT
    assert f"{TS}/config.yaml" in str(refused.value)
    assert "--custom-timestamp" in (refused.value.hint or "")
    assert list_keys(project.s3, project.stack.names.staging_bucket, f"incoming/{project.key}/") == []
    after = project.s3.head_object(Bucket=project.bucket, Key=stamped_key)
    assert after["ETag"] == before["ETag"]

    code, _, err = project.cli("upload", "--folder", str(config_folder), "--project-key", project.key,
                               "--folder-type", "config")
    assert code == EXIT_INPUT
    assert TS in err


def test_records_of_an_older_filer_still_read_as_one_run(project: Project):
    """An archive written before uploads could share a timestamp: ``_runs/{ts}/run.json``."""
    filed = project.file(TS, "logs")
    key = run_record_key(project.key, TS, filed.run_id)
    raw = project.s3.get_object(Bucket=project.bucket, Key=key)["Body"].read()
    project.s3.put_object(Bucket=project.bucket, Key=f"{project.key}/_runs/{TS}/run.json", Body=raw)
    project.s3.delete_object(Bucket=project.bucket, Key=key)
    assert RunRecord.from_json(raw).run_id == filed.run_id

    shown = project.cli_json("show", project.key, TS)
    assert shown["run_id"] == filed.run_id
    report = project.file(TS, "report")
    listing = project.cli_json("runs", project.key)
    (run,) = listing["runs"]
    assert run["types"] == ["logs", "report"]
    assert {u["run_id"] for u in run["uploads"]} == {filed.run_id, report.run_id}
    code, out, err = project.cli("verify", project.key, TS)
    assert code == 0, out + err


def test_an_abandoned_claim_is_taken_over_once_stale(project: Project, monkeypatch):
    """A run that claimed a type and was never finished (its manifest expired from staging, no
    record) blocks the type until its claim is older than the filer's bound, then no longer."""
    abandoned = Claim("a" * 32, project.key, TS, "2025-10-30T12:00:00Z", "0" * 64, ("logs",))
    project.s3.put_object(Bucket=project.bucket, Key=type_claim_key(project.key, TS, "logs"),
                          Body=abandoned.to_json())
    with pytest.raises(RunRefusedError) as refused:
        project.file(TS, "logs")
    assert refused.value.receipt.code == "timestamp-taken"

    # The filer's clock, past the bound; the server's LastModified of the claim is what it is.
    later = datetime.now(UTC) + timedelta(seconds=FilerConfig().claim_stale_seconds + 60)
    monkeypatch.setattr(stale, "now", lambda: later)
    filed = project.file(TS, "logs")
    assert filed.status == "filed"
    claim = json.loads(project.s3.get_object(Bucket=project.bucket,
                                             Key=type_claim_key(project.key, TS, "logs"))["Body"].read())
    assert claim["run_id"] == filed.run_id
    assert claim["replaces"] == "a" * 32
