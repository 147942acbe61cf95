"""Invoke the filer's Lambda handler once, with one SQS event, in a process of its own.

The benchmark runs this as a child (``python -m bench._filer_invoke EVENT.json``) with the
environment the function has in AWS, so the filer's CPU and peak RSS are measured alone, as
Lambda would bill and limit them. It prints the in-process timings (import, handler, and the
handler's CPU) as a JSON line: the handler time is the filing itself, the process time adds
interpreter start and imports (a Lambda cold start).

A filing that outlasts its invocation sends a continuation to the filing queue, as in AWS; the
queue's continuations are then invoked in turn, as Lambda would, until none is left, and the
timings cover every invocation (``invocations`` says how many).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def main(argv: list[str]) -> int:
    started = time.perf_counter()
    event = json.loads(Path(argv[0]).read_text())
    memory_mb = int(argv[1]) if len(argv) > 1 else 256
    from artifact_backup.local.worker import LambdaContext
    from artifact_filer.handler import handler

    imported = time.perf_counter()
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
    print(json.dumps({"import_s": imported - started, "handler_s": handler_s, "handler_cpu_s": cpu,
                      "invocations": invocations, "failures": failures}))
    return 1 if failures else 0


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
