"""The Lambda handler: SQS batches of S3 notifications, partial failures, lazy configuration."""

from __future__ import annotations

from urllib.parse import quote_plus

import pytest

from artifact_contract import receipt_key
from artifact_filer import FilerConfigError
from artifact_filer import handler as handler_module
from tests.support.s3 import list_keys
from tests.support.staged import ARCHIVE, STAGING, TEST_EVENT, StagedRun, s3_event, sqs_batch

PROJECT = "RMI25320"
TS = "20251030_1430"


@pytest.fixture
def env(monkeypatch, s3):
    monkeypatch.setenv("STAGING_BUCKET", STAGING)
    monkeypatch.setenv("ARCHIVE_BUCKET", ARCHIVE)
    monkeypatch.setenv("FILER_CONCURRENCY", "8")
    # The in-process S3 answers botocore only; the native put path is tested on the wire.
    monkeypatch.setenv("FILER_PUT_CLIENT", "botocore")
    handler_module.reset_filer()
    yield
    handler_module.reset_filer()


def run_batch(bodies, context):
    return handler_module.handler(sqs_batch(bodies), context)


def test_test_event_and_other_keys_are_ignored(env, s3, lambda_context):
    result = run_batch(
        [
            TEST_EVENT,
            s3_event(STAGING, "incoming/RMI25320/" + "a" * 32 + "/packs/abc.tar.gz"),
            s3_event(STAGING, "receipts/RMI25320/" + "a" * 32 + ".json"),
            s3_event(STAGING, "incoming/RMI25320/" + "a" * 32 + "/manifest.json", "ObjectRemoved:Delete"),
        ],
        lambda_context,
    )
    assert result == {"batchItemFailures": []}
    assert list_keys(s3, ARCHIVE) == []


@pytest.mark.parametrize(
    "project",
    ["RMI 25320", "RMI+25320", "Proj\u00e9t-\u6e2c\u8a66"],
    ids=["space", "plus", "unicode"],
)
def test_url_encoded_keys_are_decoded(env, s3, lambda_context, project):
    run = StagedRun(project, {("logs", "a b+c \u00e9.log"): b"hello\n"}, timestamp=TS)
    key = run.upload(s3)
    result = run_batch([s3_event(STAGING, quote_plus(key, safe="/"))], lambda_context)
    assert result == {"batchItemFailures": []}
    body = s3.get_object(Bucket=ARCHIVE, Key=f"{project}/logs/{TS}/a b+c \u00e9.log")["Body"].read()
    assert body == b"hello\n"
    assert s3.head_object(Bucket=STAGING, Key=receipt_key(project, run.run_id))


def test_one_bad_record_fails_alone(env, s3, lambda_context):
    good = StagedRun(PROJECT, {("logs", "a.log"): b"a"}, timestamp=TS)
    bad = StagedRun(PROJECT, {("logs", "b.log"): b"b"}, timestamp="20251030_1500")
    bad.build()
    other = StagedRun(PROJECT, {("config", "config.yaml"): b"c: 1\n"}, timestamp=None)
    result = run_batch(
        [
            s3_event(STAGING, good.upload(s3)),
            s3_event(STAGING, bad.upload(s3, skip=list(bad.pieces))),
            s3_event(STAGING, other.upload(s3)),
        ],
        lambda_context,
    )
    assert result == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    assert s3.head_object(Bucket=ARCHIVE, Key=f"{PROJECT}/logs/{TS}/a.log")
    assert s3.head_object(Bucket=ARCHIVE, Key=f"{PROJECT}/config/config.yaml")
    assert not list_keys(s3, ARCHIVE, f"{PROJECT}/logs/20251030_1500/")
    # Delivered again, the refused run fails again (towards the dead-letter queue).
    again = run_batch([s3_event(STAGING, bad.manifest_key)], lambda_context)
    assert again == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}


def test_filer_is_built_lazily_and_needs_its_buckets(monkeypatch, s3, lambda_context):
    monkeypatch.delenv("STAGING_BUCKET", raising=False)
    monkeypatch.setenv("ARCHIVE_BUCKET", ARCHIVE)
    handler_module.reset_filer()
    # Ignored events never need the filer, so a misconfigured function still drains test events.
    assert run_batch([TEST_EVENT], lambda_context) == {"batchItemFailures": []}
    with pytest.raises(FilerConfigError, match="STAGING_BUCKET"):
        handler_module.get_filer()
    manifest = "incoming/RMI25320/" + "c" * 32 + "/manifest.json"
    result = run_batch([s3_event(STAGING, manifest)], lambda_context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}

    monkeypatch.setenv("STAGING_BUCKET", STAGING)
    monkeypatch.setenv("FILER_CONCURRENCY", "3")
    handler_module.reset_filer()
    filer = handler_module.get_filer()
    assert filer is handler_module.get_filer()
    assert filer.config.concurrency == 3
    assert filer.client.meta.config.max_pool_connections >= 3
    assert filer.client.meta.config.retries["mode"] == "standard"
    handler_module.reset_filer()


def test_bad_tuning_variable_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("STAGING_BUCKET", STAGING)
    monkeypatch.setenv("ARCHIVE_BUCKET", ARCHIVE)
    monkeypatch.setenv("FILER_CONCURRENCY", "lots")
    with pytest.raises(FilerConfigError, match="FILER_CONCURRENCY"):
        handler_module.build_filer()


def test_a_filer_is_put_back_only_over_the_one_it_replaced():
    first, second, third = object(), object(), object()
    previous = handler_module.reset_filer(first)
    try:
        assert handler_module.reset_filer(second, replacing=first) is first
        # Someone else swapped since: putting back over `first` changes nothing.
        assert handler_module.reset_filer(third, replacing=first) is second
        assert handler_module.reset_filer(second) is second
    finally:
        handler_module.reset_filer(previous)
