"""Invoke the filer's Lambda handler once, with one SQS event, in a process of its own.

The benchmark runs this as a child (``python -m bench._filer_invoke EVENT.json``) with the
environment the function has in AWS, so the filer's CPU and peak RSS are measured alone, as
Lambda would bill and limit them. It prints the in-process timings (import, handler, and the
handler's CPU) as a JSON line: the handler time is the filing itself, the process time adds
interpreter start and imports (a Lambda cold start).

A filing that outlasts its invocation sends a continuation to the filing queue, as in AWS; the
queue's continuations are then invoked in turn, as Lambda would, until none is left, and the
timings cover every invocation (``invocations`` says how many).

With ``BENCH_FILER_MARKS`` (a path) and ``BENCH_SERVER_PID`` set, it also notes when each step of
docs/protocol.md is reached, through the filer's own step hook (``FilerConfig.on_step``, where the
fault suite kills the filer), and what the filer and the S3 server had spent by then: one
``[step, wall s, filer CPU s, server CPU s]`` per step, from ``start`` to ``end``, written there as
JSON (:mod:`bench.filing_profile`). A filing waits on the server, so the server's CPU between two
steps says what each step cost it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

#: Where the step marks go, and the server whose CPU they note (both unset: no marks).
MARKS_VAR = "BENCH_FILER_MARKS"
SERVER_PID_VAR = "BENCH_SERVER_PID"


def main(argv: list[str]) -> int:
    started = time.perf_counter()
    event = json.loads(Path(argv[0]).read_text())
    memory_mb = int(argv[1]) if len(argv) > 1 else 256
    from artifact_backup.local.worker import LambdaContext
    from artifact_filer.handler import handler

    imported = time.perf_counter()
    # After the import timing: making the filer (its S3 client) would otherwise count as import.
    marks = _step_marks(os.environ.get(MARKS_VAR), os.environ.get(SERVER_PID_VAR))
    handler_s = cpu = 0.0
    invocations = failures = 0
    while event is not None:
        begun, cpu_before = time.perf_counter(), time.process_time()  # every thread: the filing's CPU
        result = handler(event, LambdaContext(memory_limit_in_mb=memory_mb)) or {}
        cpu += time.process_time() - cpu_before
        handler_s += time.perf_counter() - begun
        invocations += 1
        failures += len(result.get("batchItemFailures", []))
        event = _continuation(event)
    if marks is not None:
        marks("end")
    print(json.dumps({"import_s": imported - started, "handler_s": handler_s, "handler_cpu_s": cpu,
                      "invocations": invocations, "failures": failures}))
    return 1 if failures else 0


def _step_marks(path: str | None, server_pid: str | None) -> Any:
    """Install the step hook; the marks are written to ``path`` at ``end``. None when no marks are
    asked for."""
    if not path or not server_pid:
        return None
    import psutil

    from artifact_filer.handler import get_filer

    server = psutil.Process(int(server_pid))
    marks: list[list[Any]] = []
    lock = threading.Lock()
    started = time.perf_counter()

    def mark(step: str) -> None:
        spent = server.cpu_times()
        with lock:  # copies reach "object-filed" from several threads at once
            marks.append([step, time.perf_counter() - started, time.process_time(),
                          spent.user + spent.system])
            if step == "end":
                Path(path).write_text(json.dumps({"marks": marks}))

    filer = get_filer()
    filer.config = dataclasses.replace(filer.config, on_step=mark)
    mark("start")
    return mark


def _continuation(previous: dict[str, Any]) -> dict[str, Any] | None:
    """The batch of continuation messages the last invocation left on the queue, if any."""
    import boto3

    from artifact_backup.local.worker import sqs_batch_event
    from artifact_filer.config import QUEUE_URL_VAR
    from artifact_filer.continuation import CONTINUATION_FIELD

    queue_url = os.environ.get(QUEUE_URL_VAR)
    if not queue_url:
        return None
    sqs = boto3.client("sqs")
    # Sent before the invocation returned, so already there: no waiting.
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                   AttributeNames=["All"]).get("Messages", [])
    continuations = [m for m in messages if CONTINUATION_FIELD in json.loads(m["Body"])]
    if not continuations:
        return None
    sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(continuations)])
    record = previous["Records"][0]
    return sqs_batch_event(continuations, record["eventSourceARN"], record["awsRegion"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
