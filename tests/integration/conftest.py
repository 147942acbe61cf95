"""The local stack for integration tests: the embedded S3 server on 127.0.0.1 (moto, or LocalStack
with ``ARTIFACT_BACKUP_S3_BACKEND=localstack``), the buckets, queues and
notification the CDK stack creates, and the worker that hands the filer's handler SQS batches.

One stack serves the whole session; each test works under its own project key, so tests stay
independent without paying for a server each.
"""

from __future__ import annotations

import hashlib
import re

import pytest

from artifact_backup.local import LocalFilerWorker, provision
from tests.support.archive_cli import Archive
from tests.support.local import reset_server, server_under_test, swapped_filer


@pytest.fixture(scope="session")
def local_server():
    with server_under_test() as server:
        yield server


@pytest.fixture(scope="session")
def local_stack(local_server):
    stack = provision(local_server.endpoint_url)
    with LocalFilerWorker(stack):
        yield stack


@pytest.fixture
def s3(local_stack):
    return local_stack.client("s3")


@pytest.fixture
def project_key(request) -> str:
    """A project key of the test's own: readable, unique, valid."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[:40].strip("-")
    return f"{name}-{hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:6]}"


@pytest.fixture(scope="session")
def fresh_server():
    """A second server whose state each ``fresh_stack`` test wipes, so the session stack is untouched."""
    with server_under_test() as server:
        yield server


@pytest.fixture
def fresh_stack(fresh_server):
    """A local stack of the test's own, for tests that need the guide's exact bucket and project
    names without meeting earlier tests' runs: the server's state is reset (moto's reset API, or
    deletions through the API where there is none) and provisioned anew. The handler holds one
    filer per process, as one Lambda execution environment does, so the one this replaces (the
    session stack's) is put back afterwards."""
    reset_server(fresh_server)
    with swapped_filer():
        stack = provision(fresh_server.endpoint_url)
        with LocalFilerWorker(stack, log_level="WARNING"):
            yield stack


@pytest.fixture
def archive(local_stack, s3, tmp_path, project_key, isolated_cache, capsys) -> Archive:
    """A project of the test's own with its config.yaml, to file runs of and read them back."""
    return Archive(local_stack, s3, tmp_path, project_key, capsys)
