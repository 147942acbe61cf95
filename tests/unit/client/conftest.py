"""Fixtures for the client's unit tests: a project folder, a config file, and S3 mocked in-process."""

from __future__ import annotations

import collections
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from artifact_backup import Journal, NullJournal, UploadConfig, Uploader, load_config
from artifact_backup.transfer import BaseSubscriber
from artifact_contract import Receipt, archive_prefix

ARCHIVE = "rmi-360-raw"
STAGING = "rmi-360-raw-staging"
PROJECT = "RMI25320"

CONFIG_TEXT = f"""\
schema_version: 1.2.0
project:
  slug: "{PROJECT}"
orchestrator:
  upload_artifacts_to_s3: true
  artifact_types:
    - config
    - logs
    - report
aws:
  s3_bucket_raw: "{ARCHIVE}"
"""


def write(path: Path, data: bytes | str = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


@pytest.fixture
def project(tmp_path) -> Path:
    """A project folder as the guide draws it, with a few files each type drops."""
    root = tmp_path / "RMI25320"
    write(root / "config" / "settings.json", "{}")
    write(root / "logs" / "process_log.txt", "started\n")
    write(root / "logs" / "exiftool_log.txt", "exif\n")
    write(root / "logs" / "enhance_log.csv", "a,b\n")
    write(root / "logs" / "nested" / "mosaic_processor_output.LOG", "mosaic\n")
    write(root / "logs" / "core.dump", "dropped")
    write(root / "report" / "report.html", "<html></html>")
    write(root / "report" / "report_data_RMI25320.json", "{}")
    write(root / "report" / "assets" / "chart.PNG", b"\x89PNG")
    write(root / "report" / "notes.docx", "dropped")
    return root


@pytest.fixture
def config_file(tmp_path) -> Path:
    return write(tmp_path / "config.yaml", CONFIG_TEXT)


@pytest.fixture
def settings(config_file):
    return load_config(config_file, environ={})


@pytest.fixture
def s3(monkeypatch):
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=STAGING)
        client.create_bucket(Bucket=ARCHIVE)
        yield client


class Calls:
    """Counts S3 API calls made through a client (one per call, whatever the retries)."""

    def __init__(self, client) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.put_keys: list[str] = []
        client.meta.events.register("before-parameter-build.s3", self._count)

    def _count(self, model, params, **kwargs) -> None:
        self.counts[model.name] += 1
        if model.name == "PutObject":
            self.put_keys.append(params.get("Key", ""))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def reset(self) -> None:
        self.counts.clear()
        self.put_keys.clear()


@pytest.fixture
def calls(s3) -> Calls:
    return Calls(s3)


class Filer(BaseSubscriber):
    """Answers like the filer, synchronously, the moment the run is committed: the first receipt
    poll then finds the receipt, so waiting is tested without any sleeping."""

    def __init__(self, s3, status: str = "filed", code: str | None = None, reason: str | None = None):
        self.s3, self.status, self.code, self.reason = s3, status, code, reason
        self.committed: list[str] = []

    def on_committed(self, *, run_id: str, already: bool, **kwargs) -> None:
        self.committed.append(run_id)
        key = next(
            k for k in _keys(self.s3, STAGING, "incoming/") if k.endswith(f"/{run_id}/manifest.json")
        )
        manifest = self.s3.get_object(Bucket=STAGING, Key=key)["Body"].read()
        import json

        data = json.loads(manifest)
        receipt = Receipt(
            run_id=run_id,
            project_key=data["project_key"],
            status=self.status,
            timestamp=data["timestamp"],
            archive_bucket=ARCHIVE,
            prefixes=tuple(
                archive_prefix(data["project_key"], t, data["timestamp"])
                for t in sorted({f["type"] for f in data["files"]})
            ),
            files=len(data["files"]),
            code=self.code,
            reason=self.reason,
        )
        self.s3.put_object(
            Bucket=STAGING, Key=f"receipts/{data['project_key']}/{run_id}.json", Body=receipt.to_json()
        )


def _keys(s3, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return keys


@pytest.fixture
def keys(s3):
    return lambda prefix="": _keys(s3, STAGING, prefix)


@pytest.fixture
def journal(tmp_path) -> Journal:
    return Journal(tmp_path / "journal")


@pytest.fixture
def make_uploader(settings, s3, journal):
    def make(*, subscribers=(), config: UploadConfig | None = None, resume: bool = True, **kwargs):
        return Uploader(
            kwargs.pop("settings", settings),
            client=s3,
            config=config,
            subscribers=subscribers,
            journal=journal if resume else NullJournal(),
            sleep=kwargs.pop("sleep", lambda seconds: None),
            **kwargs,
        )

    return make
