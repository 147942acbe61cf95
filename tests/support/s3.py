"""S3 as the tests see it: an in-process moto with the buckets a suite needs, and listings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

#: Variables that would point an in-process client away from moto's mock (or at a profile).
_REDIRECTING = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE")


@contextmanager
def mocked_s3(monkeypatch: pytest.MonkeyPatch, *buckets: str) -> Iterator[Any]:
    """An S3 client on moto's in-process mock, with ``buckets`` created (us-east-1)."""
    import boto3
    from moto import mock_aws

    for var in _REDIRECTING:
        monkeypatch.delenv(var, raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        for bucket in buckets:
            client.create_bucket(Bucket=bucket)
        yield client


def list_keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    """Every key under ``prefix``, through the paginator (a bucket can exceed one page), sorted."""
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return sorted(keys)
