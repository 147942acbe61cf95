"""Fixtures shared by every test folder."""

from __future__ import annotations

import os

import pytest

# The tests must never reach a real AWS account, whatever the developer's shell holds.
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_var, None)
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    """Keep resume journals out of the developer's own cache."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


def pytest_collection_modifyitems(config, items):
    """``strict_s3`` tests assert what only a strict server checks (a body against its declared
    checksum, conditional copies, composite checksums, kept-open connections): on moto they could
    not fail, so they are skipped there, saying which backend runs them."""
    from artifact_backup.local.backends import LOCALSTACK, backend_from_environment

    if backend_from_environment() == LOCALSTACK:
        return
    skip = pytest.mark.skip(reason="needs a strict S3 server: runs with "
                                   "ARTIFACT_BACKUP_S3_BACKEND=localstack (make test-localstack)")
    for item in items:
        if "strict_s3" in item.keywords:
            item.add_marker(skip)
