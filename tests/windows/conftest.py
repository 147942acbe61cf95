"""The Windows lane's own tests (``make test-windows``): Windows Python, run by Wine, against the
local stack on Linux. Collected only when the lane names that Python, so ``make test`` on a
machine without it neither runs nor skips them."""

from __future__ import annotations

import os

import pytest

from artifact_backup.local import LocalFilerWorker, LocalS3Server, provision
from tests.windows.lane import PYTHON_VARIABLE

collect_ignore_glob = [] if os.environ.get(PYTHON_VARIABLE) else ["test_*.py"]


@pytest.fixture(scope="session")
def local_stack():
    """The whole local pipeline on Linux: moto server on 127.0.0.1, queue, filer worker."""
    with LocalS3Server() as server:
        stack = provision(server.endpoint_url)
        with LocalFilerWorker(stack, log_level="WARNING"):
            yield stack
