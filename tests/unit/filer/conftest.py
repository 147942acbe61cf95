"""An in-process S3 (moto) with a staging and an archive bucket, and a filer pointed at them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from artifact_filer import Filer, FilerConfig
from tests.support.s3 import mocked_s3
from tests.support.staged import ARCHIVE, STAGING


@pytest.fixture
def s3(monkeypatch):
    """The archive is versioned, as the stack makes it (an imported bucket included)."""
    with mocked_s3(monkeypatch, STAGING, ARCHIVE) as client:
        client.put_bucket_versioning(Bucket=ARCHIVE, VersioningConfiguration={"Status": "Enabled"})
        yield client


@pytest.fixture
def unversioned_s3(monkeypatch):
    """An archive bucket that never had versioning (one used without deploying the stack over it)."""
    with mocked_s3(monkeypatch, STAGING, ARCHIVE) as client:
        yield client


@pytest.fixture
def steps() -> list[str]:
    return []


@pytest.fixture
def filer(s3, steps) -> Filer:
    return Filer(
        s3,
        staging_bucket=STAGING,
        archive_bucket=ARCHIVE,
        config=FilerConfig(concurrency=8, on_step=steps.append),
    )


@dataclass
class FakeContext:
    function_name: str = "artifact-filer"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = "req-1"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:artifact-filer"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@pytest.fixture
def lambda_context() -> FakeContext:
    return FakeContext()
