"""A local stack of the corpus's own, and the whole corpus submitted to it at once.

The corpus runs through the real path: objects put into the staging bucket of the embedded S3 server,
its notification into SQS, the local worker handing the filer's Lambda handler SQS batches, failed
messages redelivered until they reach the dead-letter queue (``maxReceiveCount`` 3). Every case is
staged first and then awaited together, so the suite costs a few redelivery rounds, not one per case.

The filer's environment is process-wide, so the stack is restored to whatever the session had once
the corpus is done (as ``fresh_stack`` does for the integration tests).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

import pytest

from artifact_backup.local import LocalFilerWorker, LocalStack, LocalStackNames, provision
from artifact_contract import receipt_key
from tests.support.local import server_under_test, swapped_filer

from .corpus import CASES, Case, Staged

NAMES = LocalStackNames(
    archive_bucket="hostile-archive",
    staging_bucket="hostile-archive-staging",
    queue="hostile-filer",
    dead_letter_queue="hostile-filer-dlq",
)
#: Generous: the corpus settles in a few redelivery rounds of about a second each.
DEADLINE_SECONDS = 90


class LogCapture(logging.Handler):
    """Keeps every line the filer logs, formatted by its own powertools formatter (JSON with the
    keys the handler appends), as CloudWatch would receive it."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


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
    log: LogCapture
    seconds: float


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
def corpus() -> Iterator[CorpusRun]:
    from artifact_filer.handler import logger as filer_logger

    with swapped_filer(), server_under_test() as server:
        stack = provision(server.endpoint_url, NAMES)
        worker = LocalFilerWorker(stack, log_level="INFO")
        capture = LogCapture(filer_logger.registered_formatter)
        logging.getLogger(filer_logger.service).addHandler(capture)
        try:
            worker.start()
            yield _run_corpus(stack, capture)
        finally:
            worker.stop()
            logging.getLogger(filer_logger.service).removeHandler(capture)


def _run_corpus(stack: LocalStack, capture: LogCapture) -> CorpusRun:
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
    return CorpusRun(stack, outcomes, sorted(_list(s3, archive)), dead, capture, seconds)
