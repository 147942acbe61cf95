"""A local stack of the corpus's own, and the whole corpus submitted to it at once.

The corpus runs through the real path: objects put into the staging bucket of the embedded S3 server,
its notification into SQS, the local worker handing the filer's Lambda handler SQS batches, failed
messages redelivered until they reach the dead-letter queue (``maxReceiveCount`` 3). Every case is
staged first and then awaited together, so the suite costs a few redelivery rounds, not one per case.

The filer runs in a process of its own (``filer_process``), as in Lambda, so the corpus can report the
filer's peak memory over the whole corpus (its resident set's high-water mark), not the test's; its
log lines (powertools JSON on its standard output) are collected as CloudWatch would receive them.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

from artifact_backup.local import LocalStack, LocalStackNames, provision
from artifact_contract import receipt_key
from tests.support.local import server_under_test

from .corpus import CASES, Case, Staged

REPO_ROOT = Path(__file__).resolve().parents[2]

NAMES = LocalStackNames(
    archive_bucket="hostile-archive",
    staging_bucket="hostile-archive-staging",
    queue="hostile-filer",
    dead_letter_queue="hostile-filer-dlq",
)
#: Generous: the corpus settles in a few redelivery rounds of about a second each, after the filer
#: has read the two 100,000-file manifests and the pack of 100,000 members (corpus_bounds).
DEADLINE_SECONDS = 180


#: Most of the filer's peak memory the corpus may take: a quarter of the function's 2,048 MB.
MAX_PEAK_RSS_BYTES = 512 * 1024 * 1024


class FilerProcess:
    """The filer worker process: its log lines as they come, its peak memory on request."""

    def __init__(self, stack: LocalStack, folder: Path) -> None:
        stack_path = folder / "stack.json"
        stack_path.write_text(json.dumps({
            "endpoint_url": stack.endpoint_url, "region": stack.region, "names": vars(stack.names),
            "queue_url": stack.queue_url, "queue_arn": stack.queue_arn,
            "dead_letter_queue_url": stack.dead_letter_queue_url,
        }))
        self.lines: list[dict[str, Any]] = []
        self._control: queue.Queue[str] = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.hostile.filer_process", str(stack_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **stack.filer_environment()}, cwd=str(REPO_ROOT),
        )
        threading.Thread(target=self._read_logs, daemon=True).start()
        threading.Thread(target=self._read_control, daemon=True).start()
        self._await(lambda line: line == "ready", "start")

    def _read_logs(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):
                self.lines.append(json.loads(line))

    def _read_control(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._control.put(line.strip())

    def _await(self, wanted: Any, what: str) -> str:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                line = self._control.get(timeout=1)
            except queue.Empty:
                assert self.process.poll() is None, f"the filer process ended before it could {what}"
                continue
            if wanted(line):
                return line
        raise AssertionError(f"the filer process did not {what} in time")

    def peak_rss_bytes(self) -> int:
        assert self.process.stdin is not None
        self.process.stdin.write("peak\n")
        self.process.stdin.flush()
        line = self._await(lambda text: text.startswith('{"peak_rss_bytes"'), "report its memory")
        return int(json.loads(line)["peak_rss_bytes"])

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Outcome:
    """What became of one case, read back once the whole corpus has settled."""

    case: Case
    project: str
    run_id: str
    staged: Staged
    receipt: dict[str, Any] | None = None
    staging_after: dict[str, int] = field(default_factory=dict)
    quarantine_after: dict[str, int] = field(default_factory=dict)
    dead_lettered: bool = False
    log_lines: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CorpusRun:
    stack: LocalStack
    outcomes: dict[str, Outcome]
    archive_keys: list[str]
    dead_letter_keys: set[str]
    log: FilerProcess
    seconds: float
    #: The filer process's peak resident set once the whole corpus was refused.
    peak_rss_bytes: int


def _list(s3: Any, bucket: str, prefix: str = "") -> dict[str, int]:
    found: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found.update((o["Key"], int(o["Size"])) for o in page.get("Contents", []))
    return found


def _project_for(case: Case, run_id: str) -> str:
    suffix = run_id[:6]
    return case.project.format(suffix=suffix) if case.project else f"{case.name}-{suffix}"


def _dead_letters(sqs: Any, url: str) -> Iterator[str]:
    response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                   VisibilityTimeout=600)
    for message in response.get("Messages", []):
        body = json.loads(message["Body"])
        for record in body.get("Records", []):
            yield unquote_plus(record["s3"]["object"]["key"])


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CorpusRun]:
    with server_under_test() as server:
        stack = provision(server.endpoint_url, NAMES)
        filer = FilerProcess(stack, tmp_path_factory.mktemp("hostile-filer"))
        try:
            yield _run_corpus(stack, filer)
        finally:
            filer.stop()


def _run_corpus(stack: LocalStack, capture: FilerProcess) -> CorpusRun:
    s3 = stack.client("s3")
    sqs = stack.client("sqs")
    archive, staging = stack.names.archive_bucket, stack.names.staging_bucket
    assert _list(s3, archive) == {}, "the corpus needs an empty archive to prove nothing reaches it"

    outcomes: dict[str, Outcome] = {}
    for case in CASES:
        run_id = uuid.uuid4().hex
        project = _project_for(case, run_id)
        outcomes[case.name] = Outcome(case, project, run_id, case.build(project, run_id, archive))

    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        # Pieces first, every case's; then the manifests, which are what the filer is told about.
        pieces = [(k, b) for o in outcomes.values() for k, b in o.staged.objects.items()
                  if k != o.staged.manifest_key]
        list(pool.map(lambda kb: s3.put_object(Bucket=staging, Key=kb[0], Body=kb[1]), pieces))
        list(pool.map(lambda o: s3.put_object(Bucket=staging, Key=o.staged.manifest_key,
                                              Body=o.staged.objects[o.staged.manifest_key]),
                      outcomes.values()))

    expected = {o.staged.manifest_key for o in outcomes.values()}
    dead: set[str] = set()
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not expected <= dead and time.monotonic() < deadline:
        dead.update(_dead_letters(sqs, stack.dead_letter_queue_url))
    seconds = time.monotonic() - started

    for o in outcomes.values():
        o.dead_lettered = o.staged.manifest_key in dead
        if o.case.code is not None:
            try:
                raw = s3.get_object(Bucket=staging, Key=receipt_key(o.project, o.run_id))["Body"].read()
                o.receipt = json.loads(raw)
            except s3.exceptions.NoSuchKey:
                o.receipt = None
            o.staging_after = _list(s3, staging, f"incoming/{o.project}/{o.run_id}/")
            o.quarantine_after = _list(s3, staging, f"quarantine/{o.project}/{o.run_id}/")
        else:
            o.staging_after = {k: v for k, v in _list(s3, staging, "incoming/").items()
                               if k in o.staged.objects}
        o.log_lines = [line for line in capture.lines
                       if line.get("run_id") == o.run_id or line.get("key") == o.staged.manifest_key]
    return CorpusRun(stack, outcomes, sorted(_list(s3, archive)), dead, capture, seconds,
                     capture.peak_rss_bytes())
