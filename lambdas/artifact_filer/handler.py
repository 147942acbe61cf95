"""The Lambda entry point: an SQS batch of S3 notifications, one manifest per record.

Each record succeeds or fails on its own (partial batch responses), so one refused run never holds
back the others in its batch; a failed record is delivered again and, after the queue's
``maxReceiveCount``, lands in the dead-letter queue.
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from artifact_contract import ContractError, RefusalCode, parse_manifest_key

from .config import ARCHIVE_BUCKET_VAR, QUEUE_URL_VAR, SERVICE_NAME, STAGING_BUCKET_VAR, FilerConfig
from .continuation import CONTINUATION_FIELD, Continuer
from .crt import CrtPutter
from .crt import available as crt_available
from .exceptions import FilerConfigError, FilerRefusedError
from .filer import Filer
from .progress import RemainingTime

SERVICE = SERVICE_NAME
TEST_EVENT = "s3:TestEvent"
#: Refusals the client recovers from by itself: the receipt says what to do, and the message ends
#: there, so a normal event does not reach the dead-letter queue and its alarm.
RECOVERABLE_REFUSALS = frozenset({RefusalCode.REUSE_UNAVAILABLE})

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))
#: A batch whose every record fails is still answered with ``batchItemFailures`` rather than an
#: invocation error: the outcome for SQS is the same, and each record keeps its own reason.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

_filer: Filer | None = None
_lock = threading.Lock()


def build_filer(environ: dict[str, str] | None = None) -> Filer:
    """A filer from the function's environment: ``STAGING_BUCKET`` and ``ARCHIVE_BUCKET`` (required),
    ``FILER_QUEUE_URL`` (the queue a long filing continues on) and the optional ``FILER_*`` tuning
    variables. boto3 itself reads ``AWS_ENDPOINT_URL``."""
    env = dict(os.environ if environ is None else environ)
    missing = [name for name in (STAGING_BUCKET_VAR, ARCHIVE_BUCKET_VAR) if not env.get(name)]
    if missing:
        raise FilerConfigError(
            f"the filer needs the environment variable(s) {', '.join(missing)}: set them on the "
            "function to the staging and archive bucket names"
        )
    config = FilerConfig.from_environ(env)
    # In Lambda boto3 reads the process environment itself. An explicit ``environ`` (the local
    # stack) carries its own endpoint, region and credentials, so nothing leaks into the process.
    explicit: dict[str, str] = {}
    if environ is not None:
        for argument, name in (
            ("endpoint_url", "AWS_ENDPOINT_URL"),
            ("region_name", "AWS_REGION"),
            ("aws_access_key_id", "AWS_ACCESS_KEY_ID"),
            ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY"),
            ("aws_session_token", "AWS_SESSION_TOKEN"),
        ):
            if env.get(name):
                explicit[argument] = env[name]
    credentials = {k: explicit.pop(k) for k in ("aws_access_key_id", "aws_secret_access_key",
                                                 "aws_session_token") if k in explicit}
    session = boto3.session.Session(**credentials)
    client = session.client(
        "s3",
        **explicit,
        config=Config(
            retries={"mode": "standard", "max_attempts": config.max_attempts},
            # Worker threads, s3transfer's part copies and the pack readers share the pool.
            max_pool_connections=config.concurrency + 24,
            connect_timeout=10,
            read_timeout=120,
        ),
    )
    return Filer(
        client,
        staging_bucket=env[STAGING_BUCKET_VAR],
        archive_bucket=env[ARCHIVE_BUCKET_VAR],
        config=config,
        logger=logger,
        putter=_putter(client, session, config),
        continuer=_continuer(env, session, explicit),
    )


def _continuer(env: dict[str, str], session: Any, explicit: dict[str, str]) -> Continuer | None:
    """Where a filing too long for its invocation continues: the filing queue, when it is named."""
    queue_url = env.get(QUEUE_URL_VAR)
    if not queue_url:
        logger.warning(f"{QUEUE_URL_VAR} is not set: a run too large for one invocation is filed "
                       "over redeliveries of its message instead of continuation messages")
        return None
    sqs = session.client("sqs", **explicit, config=Config(retries={"mode": "standard"}))
    return Continuer(sqs, queue_url, explicit.get("region_name") or session.region_name or "")


def _putter(client: Any, session: Any, config: FilerConfig) -> CrtPutter | None:
    """The native put path unless botocore is asked for or awscrt is missing (said once, here)."""
    if config.put_client != "crt":
        return None
    if not crt_available():
        logger.warning("awscrt is not installed: packed files are put through botocore")
        return None
    return CrtPutter.for_client(client, session.get_credentials(), max_connections=config.concurrency,
                                max_attempts=config.max_attempts)


def get_filer() -> Filer:
    """The filer of this execution environment, built on first use (warm invocations reuse it)."""
    global _filer
    with _lock:
        if _filer is None:
            _filer = build_filer()
        return _filer


_ANY: Any = object()


def reset_filer(filer: Filer | None = None, *, replacing: Filer | None = _ANY) -> Filer | None:
    """Forget the cached filer (or install ``filer``), e.g. after the environment changed; returns
    the one it replaces, so whoever swapped it in can put it back.

    With ``replacing``, only when the cached filer is still that one, checked under the same lock:
    whoever puts back what it replaced must not undo a later swap by someone else.
    """
    global _filer
    with _lock:
        previous = _filer
        if replacing is _ANY or previous is replacing:
            _filer = filer
    return previous


def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
    """File every manifest the record's S3 notification names; raising fails just this record.

    ``lambda_context`` (passed by the batch processor) tells the time left: a filing that would
    outlast the invocation continues in a fresh one.
    """
    body = record.json_body
    if isinstance(body, dict) and body.get("Event") == TEST_EVENT:
        logger.debug("S3 test event ignored", extra={"message_id": record.message_id})
        return
    if isinstance(body, dict) and CONTINUATION_FIELD in body:
        logger.debug("continuation message", extra={"message_id": record.message_id,
                                                    "continuation": body[CONTINUATION_FIELD]})
    remaining = lambda_context.get_remaining_time_in_millis if lambda_context is not None else None
    event = record.decoded_nested_s3_event
    for s3_record in event.records:
        key = unquote_plus(s3_record.s3.get_object.key)
        if not s3_record.event_name.startswith("ObjectCreated"):
            logger.debug("not an object creation, ignored", extra={"key": key})
            continue
        filer = get_filer()
        if s3_record.s3.bucket.name != filer.staging_bucket:
            logger.warning(
                "notification from another bucket ignored",
                extra={"bucket": s3_record.s3.bucket.name, "key": key},
            )
            continue
        _file_one(filer, key, remaining)


def _file_one(filer: Filer, key: str, remaining: RemainingTime | None) -> None:
    try:
        location = parse_manifest_key(key)
    except ContractError:
        location = None  # the filer refuses it and says why
    identity = {"project_key": location.project_key, "run_id": location.run_id} if location else {}
    logger.append_keys(**identity)
    try:
        filer.file(key, remaining)
    except FilerRefusedError as refusal:
        if refusal.code not in RECOVERABLE_REFUSALS:
            raise
        logger.info("run refused, the client sends it again", extra={"code": refusal.code})
    finally:
        logger.remove_keys(list(identity))


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
