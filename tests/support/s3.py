"""S3 as the tests see it: an in-process moto with the buckets a suite needs, listings, and the
answers a client got."""

from __future__ import annotations

import os
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

#: Variables that would point an in-process client away from moto's mock (or at a profile).
_REDIRECTING = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE")
#: Where the Windows lane runs the unit tests, moto cannot run in-process (its cryptography needs a
#: system library Wine lacks): the lane names a moto server it runs on Linux instead, whose state
#: each test wipes, so the same tests run there unchanged.
SERVER_VARIABLE = "ARTIFACT_BACKUP_TEST_S3_SERVER"


@contextmanager
def mocked_s3(monkeypatch: pytest.MonkeyPatch, *buckets: str) -> Iterator[Any]:
    """An S3 client on moto's in-process mock, with ``buckets`` created (us-east-1)."""
    import boto3

    for var in _REDIRECTING:
        monkeypatch.delenv(var, raising=False)
    server = os.environ.get(SERVER_VARIABLE)
    if server:
        yield _served_s3(monkeypatch, server, buckets)
        return
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        for bucket in buckets:
            client.create_bucket(Bucket=bucket)
        yield client


def _served_s3(monkeypatch: pytest.MonkeyPatch, server: str, buckets: tuple[str, ...]) -> Any:
    """A client of the lane's moto server, wiped (moto's reset API) and given ``buckets``; clients
    the code under test makes itself reach the same server."""
    import boto3

    request = urllib.request.Request(f"{server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    monkeypatch.setenv("AWS_ENDPOINT_URL", server)
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=server)
    for bucket in buckets:
        client.create_bucket(Bucket=bucket)
    return client


def list_keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    """Every key under ``prefix``, through the paginator (a bucket can exceed one page), sorted."""
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return sorted(keys)


def answers(client: Any) -> Counter[tuple[str, int]]:
    """Every answer ``client`` gets from now on, by (operation, HTTP status), retries included."""
    seen: Counter[tuple[str, int]] = Counter()

    def record(http_response: Any, model: Any, **_: Any) -> None:
        seen[(model.name, http_response.status_code)] += 1

    client.meta.events.register("after-call.s3", record)
    return seen
