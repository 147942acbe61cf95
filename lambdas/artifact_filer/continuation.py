"""Continuing a filing in a fresh invocation: a message for the run's manifest on the filing queue.

The message is the S3 notification the manifest's upload sent, so the handler reads it like any
other; it only adds ``ArtifactBackupContinuation`` (the invocation it continues) for the logs. It is
sent before the current message is answered: a filer that dies in between leaves two messages for
the run, and the second finds it filed (or files it alongside, as any redelivery may).

Once sent, the current message ends successfully, so a long run does not use up the queue's
``maxReceiveCount``, which is kept for real failures.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

from artifact_contract.s3 import now_iso

#: The body's marker of a continuation, beside the notification's ``Records``.
CONTINUATION_FIELD = "ArtifactBackupContinuation"


def continuation_body(bucket: str, key: str, invocation: int, region: str = "") -> str:
    """An ``ObjectCreated`` notification of ``key`` in ``bucket``, as S3 writes it (key URL-encoded)."""
    return json.dumps({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": region,
            "eventTime": now_iso(),
            "eventName": "ObjectCreated:Put",
            "s3": {
                "s3SchemaVersion": "1.0",
                "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                "object": {"key": quote_plus(key, safe="/")},
            },
        }],
        CONTINUATION_FIELD: {"invocation": invocation},
    }, separators=(",", ":"))


class Continuer:
    """Sends continuation messages to the filing queue at ``queue_url`` through ``sqs``, a boto3
    SQS client (thread-safe, shared)."""

    def __init__(self, sqs: Any, queue_url: str, region: str = "") -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.region = region

    def send(self, bucket: str, key: str, invocation: int) -> None:
        """Ask for a fresh invocation to go on filing the manifest at ``key``."""
        self.sqs.send_message(QueueUrl=self.queue_url,
                              MessageBody=continuation_body(bucket, key, invocation, self.region))
