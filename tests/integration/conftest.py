"""The local stack for integration tests: moto in server mode on 127.0.0.1, the buckets, queues and
notification the CDK stack creates, and the worker that hands the filer's handler SQS batches.

One stack serves the whole session; each test works under its own project key, so tests stay
independent without paying for a server each.
"""

from __future__ import annotations

import hashlib
import re

import pytest

from artifact_backup.local import LocalFilerWorker, LocalS3Server, provision


@pytest.fixture(scope="session")
def local_server():
    with LocalS3Server() as server:
        yield server


@pytest.fixture(scope="session")
def local_stack(local_server):
    stack = provision(local_server.endpoint_url)
    worker = LocalFilerWorker(stack).start()
    yield stack
    worker.stop()


@pytest.fixture
def s3(local_stack):
    return local_stack.client("s3")


@pytest.fixture
def project_key(request) -> str:
    """A project key of the test's own: readable, unique, valid."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[:40].strip("-")
    return f"{name}-{hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:6]}"


@pytest.fixture
def list_keys(s3):
    """Every key under a prefix, through the paginator (a bucket can exceed one page)."""

    def list_keys(bucket: str, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return keys

    return list_keys
