"""The local stand-in for Lambda's SQS event source mapping.

It receives batches from the filing queue and hands the filer's real handler the same event AWS
would build (``Records`` with ``messageId``, ``receiptHandle``, ``body``, ``attributes``,
``eventSource: aws:sqs`` …), then does what the event source mapping does with the answer: deletes
the messages that succeeded and leaves the ``batchItemFailures`` on the queue, so they are
delivered again and, after ``maxReceiveCount`` attempts, moved to the dead-letter queue.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import LocalStackError
from .stack import LocalStack

log = logging.getLogger(__name__)

Handler = Callable[[Mapping[str, Any], Any], Mapping[str, Any] | None]


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that the filer and powertools read."""

    function_name: str = "artifact-filer"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    timeout_seconds: float = 900.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/artifact-filer"
    log_stream_name: str = "local"
    _deadline: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class BatchOutcome:
    received: int = 0
    failed: int = 0


def sqs_batch_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source hands a function, built from ReceiveMessage's answer."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def load_filer_handler(stack: LocalStack, log_level: str = "INFO", **tuning: int | str) -> Handler:
    """Install a filer configured as the function is in AWS, pointed at the stack, and return the
    real handler.

    The filer gets the function's environment as an explicit mapping, so the process environment
    (and every other client in it) is left alone. The handler module holds one filer, as one
    execution environment does: one local stack per process.
    """
    return _install_filer(stack, log_level, tuning)[0]


def _install_filer(
    stack: LocalStack, log_level: str, tuning: Mapping[str, int | str]
) -> tuple[Handler, Callable[[], None]]:
    """:func:`load_filer_handler`, and a function that puts back the filer it replaced."""
    try:
        from artifact_filer import handler as handler_module
    except ImportError as exc:
        raise LocalStackError(
            f"the filer cannot be loaded ({exc}): pip install 'artifact-backup[local]'"
        ) from None
    handler_module.logger.setLevel(log_level)
    installed = handler_module.build_filer(stack.filer_environment(log_level, **tuning))
    previous = handler_module.reset_filer(installed)

    def restore() -> None:
        # Only if it is still ours: a later session may have installed its own meanwhile.
        handler_module.reset_filer(previous, replacing=installed)

    return handler_module.handler, restore


class LocalFilerWorker:
    """Poll the queue and invoke the handler with SQS batch events until stopped.

    Without ``handler`` it installs a filer configured as the function is, with ``filer_tuning``
    (filer settings by name) on top; ``timeout_seconds`` is each invocation's time.
    """

    def __init__(
        self,
        stack: LocalStack,
        handler: Handler | None = None,
        *,
        batch_size: int = 10,
        wait_seconds: int = 1,
        retry_delay_seconds: int = 1,
        log_level: str = "INFO",
        timeout_seconds: float = 900.0,
        filer_tuning: Mapping[str, int | str] | None = None,
    ) -> None:
        self.stack = stack
        #: Puts back the filer this worker replaced, when it installed its own: a session (the
        #: demo, ``local``) leaves the process as it found it once stopped.
        self._restore: Callable[[], None] | None = None
        if handler is None:
            handler, self._restore = _install_filer(stack, log_level, filer_tuning or {})
        self.handler = handler
        self.batch_size = batch_size
        self.wait_seconds = wait_seconds
        #: AWS waits out the queue's visibility timeout before a retry; locally a second will do.
        self.retry_delay_seconds = retry_delay_seconds
        #: Each invocation's time, as the function's timeout is in AWS: a filing that would outlast
        #: it continues in the next invocation. Small values show that on small runs.
        self.timeout_seconds = timeout_seconds
        self._sqs = stack.client("sqs")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.errors: list[BaseException] = []

    def poll_once(self) -> BatchOutcome:
        """Receive one batch (long poll), invoke the handler once, settle the messages."""
        response = self._sqs.receive_message(
            QueueUrl=self.stack.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return BatchOutcome()
        self.batches += 1
        failed_ids: set[str]
        try:
            event = sqs_batch_event(messages, self.stack.queue_arn, self.stack.region)
            result = self.handler(event, LambdaContext(timeout_seconds=self.timeout_seconds)) or {}
            failed_ids = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception as exc:  # a crashed invocation fails the whole batch, as in Lambda
            log.exception("filer invocation failed")
            self.errors.append(exc)
            failed_ids = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self.stack.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        retry = [m for m in messages if m["MessageId"] in failed_ids]
        if retry:
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.stack.queue_url,
                Entries=[
                    {
                        "Id": str(i),
                        "ReceiptHandle": m["ReceiptHandle"],
                        "VisibilityTimeout": self.retry_delay_seconds,
                    }
                    for i, m in enumerate(retry)
                ],
            )
        return BatchOutcome(received=len(messages), failed=len(retry))

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # keep serving; the server may be restarting
                if self._stop.is_set():
                    break
                log.warning("local worker: %s", exc)
                self.errors.append(exc)
                self._stop.wait(0.5)

    def start(self) -> LocalFilerWorker:
        self._thread = threading.Thread(target=self.run, name="local-filer-worker", daemon=True)
        self._thread.start()
        return self

    def __enter__(self) -> LocalFilerWorker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.wait_seconds + 30)
            self._thread = None
        if self._restore is not None:
            self._restore()
            self._restore = None
