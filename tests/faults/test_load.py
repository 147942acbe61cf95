"""Load: 100 runs submitted at once to the local stack, each by its own thread waiting for its
receipt, as 100 workflows finishing together would. All are filed, none is lost, none mixed up:
each run's record lists exactly its own files, byte-identical, under its own project and minute.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from artifact_backup.aws import make_s3_client
from artifact_backup.local import LocalFilerWorker
from artifact_contract import RunRecord, archive_key, run_record_key
from artifact_filer import handler as filer_handler
from tests.support.s3 import list_keys

from .support import backup, local_files, make_project, versions, write_settings

RUNS = 100
#: Lambda runs several containers at once; three workers stand in for them.
WORKERS = 3
ARCHIVE = "rmi-360-raw"
STAGING = "rmi-360-raw-staging"


def test_hundred_concurrent_runs_all_filed_none_mixed(tmp_path, stack, s3, make_filer):
    make_filer()
    # 50 projects, two runs each in different minutes: same project, same file names, other bytes.
    jobs: list[tuple[Path, Path, str, str]] = []
    for i in range(RUNS):
        project, stamp = f"LOAD{i // 2:03d}", f"20251030_12{i % 2:02d}"
        where = tmp_path / f"run{i:03d}"
        where.mkdir()
        folder = make_project(where, project, small=3, seed=f"run{i}", large=False)
        jobs.append((where, folder, project, stamp))
    # One client for the hundred threads (boto3 clients are thread-safe): building a hundred would
    # measure botocore's start-up, not the pipeline.
    client = make_s3_client(write_settings(tmp_path, stack))
    workers = [LocalFilerWorker(stack, handler=filer_handler.handler, wait_seconds=1,
                                retry_delay_seconds=0).start() for _ in range(WORKERS)]
    try:
        with ThreadPoolExecutor(RUNS) as pool:
            futures = [pool.submit(backup, where, stack, folder, project, timestamp=stamp,
                                   include=["logs"], client=client)
                       for where, folder, project, stamp in jobs]
            results: list[Any] = [f.result() for f in futures]
    finally:
        for worker in workers:
            worker.stop()

    assert [r.status for r in results] == ["filed"] * RUNS
    assert len({r.run_id for r in results}) == RUNS
    counts = versions(s3, ARCHIVE)
    expected_keys: set[str] = set()
    for (_, folder, project, stamp), result in zip(jobs, results, strict=True):
        assert result.timestamp == stamp
        files = {archive_key(project, t, stamp, rel): path
                 for (t, rel), path in local_files(folder, ["logs"]).items()}
        record_key = run_record_key(project, stamp, result.run_id)
        record = RunRecord.from_json(s3.get_object(Bucket=ARCHIVE, Key=record_key)["Body"].read())
        assert record.run_id == result.run_id
        assert {f.key: f.sha256 for f in record.files} == {
            k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in files.items()}
        for key, path in files.items():
            obj = s3.get_object(Bucket=ARCHIVE, Key=key)
            assert obj["Body"].read() == path.read_bytes(), key
            assert obj["Metadata"]["run-id"] == result.run_id
        expected_keys |= set(files)
    filed = {k for k in counts if "/_runs/" not in k}
    assert filed == expected_keys
    assert all(counts[k] == 1 for k in filed)
    assert list_keys(s3, STAGING, "incoming/") == []
    assert list_keys(s3, STAGING, "quarantine/") == []
