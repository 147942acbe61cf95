"""A project of a test's own on the local stack, filed by the real client and filer, and the
command line to read it back: what the read-side integration tests share."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from artifact_backup import backup_run, load_config
from artifact_backup.cli import main
from artifact_backup.local.sample import make_sample_project
from artifact_contract import RunRecord

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


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
