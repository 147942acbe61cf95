"""Fixtures for the client's unit tests: a project folder, a config file, and S3 mocked in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
from client_support import ARCHIVE, CONFIG_TEXT, STAGING, Calls, write

from artifact_backup import Journal, NullJournal, UploadConfig, Uploader, load_config
from tests.support.s3 import list_keys, mocked_s3


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
    with mocked_s3(monkeypatch, STAGING, ARCHIVE) as client:
        yield client


@pytest.fixture
def calls(s3) -> Calls:
    return Calls(s3)


@pytest.fixture
def keys(s3):
    return lambda prefix="": list_keys(s3, STAGING, prefix)


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
