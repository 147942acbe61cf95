"""`artifact-backup demo`, the newcomer's first command: two runs of the sample project through the
whole local pipeline (embedded S3 server, queue, filer), read back from the archive."""

from __future__ import annotations

import pytest

from artifact_backup.local.demo import run_demo
from artifact_contract import parse_runs_key
from tests.support.local import backend_under_test, installed_filer

pytestmark = pytest.mark.integration


def test_demo_files_two_complete_runs(tmp_path, local_stack):
    before = installed_filer()
    said: list[str] = []
    result = run_demo(tmp_path, say=said.append, backend=backend_under_test())
    # Its filer is gone once it stops: the process's own local stack files its runs again.
    assert installed_filer() is before
    assert len(result.runs) == 2
    assert len({r.timestamp for r in result.runs}) == 2
    for run in result.runs:
        archived = [k for k in result.keys if any(k.startswith(p) for p in run.prefixes)]
        assert len(archived) == run.files > 0
    assert result.dropped_in_archive == []
    records = result.run_records
    assert len(records) == 2
    assert {parse_runs_key(result.project_key, k).timestamp for k in records} == {
        r.timestamp for r in result.runs
    }
    assert f"s3://{result.archive_bucket}/{result.project_key}/" in result.tree
    assert said  # it tells the newcomer what it is doing
