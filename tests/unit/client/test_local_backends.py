"""Choosing the embedded S3 server, and what a missing LocalStack says; emptying a server through
the API (moto's in-process mock stands in for the server here)."""

from __future__ import annotations

import os
import re
import signal
import tempfile
from pathlib import Path

import pytest

from artifact_backup.cli import main
from artifact_backup.cli._signals import sigterm_interrupts
from artifact_backup.exceptions import EXIT_LOCAL, LocalStackError
from artifact_backup.local import BACKEND_ENV, LocalS3Server, backend_from_environment, embedded_server
from artifact_backup.local.localstack import PYTHON_ENV, LocalStackServer, localstack_python
from artifact_backup.local.wipe import wipe
from tests.support.s3 import mocked_s3


@pytest.mark.parametrize(("value", "backend"), [(None, "moto"), ("", "moto"), ("moto", "moto"),
                                                (" LocalStack ", "localstack")])
def test_the_backend_comes_from_the_environment_moto_by_default(monkeypatch, value, backend):
    if value is None:
        monkeypatch.delenv(BACKEND_ENV, raising=False)
    else:
        monkeypatch.setenv(BACKEND_ENV, value)
    assert backend_from_environment() == backend


def test_an_unknown_backend_is_named_with_the_choices(monkeypatch):
    monkeypatch.setenv(BACKEND_ENV, "minio")
    with pytest.raises(LocalStackError, match=r"ARTIFACT_BACKUP_S3_BACKEND='minio'.*moto, localstack"):
        backend_from_environment()
    with pytest.raises(LocalStackError, match="unknown S3 backend 'minio'"):
        embedded_server("minio")


def test_each_backend_has_its_server():
    assert isinstance(embedded_server("moto"), LocalS3Server)
    server = embedded_server("localstack")
    assert isinstance(server, LocalStackServer)
    assert server.strict
    assert not embedded_server("moto").strict


def test_a_missing_localstack_says_what_to_run(monkeypatch):
    monkeypatch.delenv(PYTHON_ENV, raising=False)
    with pytest.raises(LocalStackError, match=r"LOCALSTACK_PYTHON is not set.*make localstack"):
        localstack_python()
    monkeypatch.setenv(PYTHON_ENV, "/nowhere/bin/python")
    with pytest.raises(LocalStackError, match=r"/nowhere/bin/python is not an executable.*make localstack"):
        localstack_python()


def test_a_localstack_that_cannot_start_leaves_no_data_directory(monkeypatch):
    monkeypatch.delenv(PYTHON_ENV, raising=False)
    before = set(Path(tempfile.gettempdir()).glob("artifact-backup-localstack-*"))
    server = LocalStackServer()
    with pytest.raises(LocalStackError):
        server.start()
    assert set(Path(tempfile.gettempdir()).glob("artifact-backup-localstack-*")) == before
    assert server.data_dir is None


@pytest.mark.parametrize("command", ["local", "demo"])
def test_the_cli_says_what_to_run_when_localstack_is_missing(monkeypatch, capsys, command):
    monkeypatch.delenv(PYTHON_ENV, raising=False)
    assert main([command, "--backend", "localstack"]) == EXIT_LOCAL
    err = capsys.readouterr().err
    assert "make localstack" in err
    assert PYTHON_ENV in err


def test_the_backend_option_offers_both_servers(capsys):
    assert main(["local", "--backend", "minio"]) == 2  # argparse's usage error
    # Python 3.12.8 and later drop the quotes around the choices.
    assert re.search(r"choose from '?moto'?, '?localstack'?", capsys.readouterr().err)


def test_wipe_removes_queues_uploads_versions_markers_and_buckets(monkeypatch):
    import boto3

    with mocked_s3(monkeypatch, "plain", "versioned") as s3:
        sqs = boto3.client("sqs", region_name="us-east-1")
        sqs.create_queue(QueueName="filer")
        s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
        for n in range(3):
            s3.put_object(Bucket="versioned", Key="k", Body=str(n).encode())
        s3.delete_object(Bucket="versioned", Key="k")  # a delete marker on top
        s3.put_object(Bucket="plain", Key="a/b", Body=b"x")
        s3.create_multipart_upload(Bucket="plain", Key="big")
        wipe(s3, sqs)
        assert s3.list_buckets()["Buckets"] == []
        assert sqs.list_queues().get("QueueUrls", []) == []


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_sigterm_unwinds_like_ctrl_c_within_the_block_only():
    before = signal.getsignal(signal.SIGTERM)
    unwound: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        _terminated_inside(unwound)
    assert unwound == ["finally ran"]
    assert signal.getsignal(signal.SIGTERM) == before


def _terminated_inside(unwound: list[str]) -> None:
    with sigterm_interrupts():
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs before the next statement
            unwound.append("not interrupted")
        finally:
            unwound.append("finally ran")
