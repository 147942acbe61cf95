"""The filer's queue and function, each construct on its own in a bare stack: the properties it promises,
independent of the rest."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template
from infra_support import DEFAULTS, as_list, bare_stack, resource_text, resources, statements

from infra.components import Filer, FilerQueue
from infra.contract import (
    INCOMING_PREFIX,
    INDEX_PREFIX,
    MANIFEST_NAME,
    PROGRESS_PREFIX,
    QUARANTINE_PREFIX,
    RECEIPTS_PREFIX,
)

# --- queue -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def queue() -> Template:
    stack = bare_stack()
    bucket = s3.Bucket(stack, "Staging")
    FilerQueue(stack, "Queue", settings=DEFAULTS, staging_bucket=bucket)
    return Template.from_stack(stack)


def test_queue_has_a_bounded_dead_letter_queue_encryption_and_tls(queue: Template) -> None:
    queue.resource_count_is("AWS::SQS::Queue", 2)
    queue.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "RedrivePolicy": {
                "deadLetterTargetArn": Match.any_value(),
                "maxReceiveCount": DEFAULTS.dlq_max_receive_count,
            },
            "SqsManagedSseEnabled": True,
        },
    )
    for q in resources(queue.to_json(), "AWS::SQS::Queue").values():
        assert q["Properties"]["SqsManagedSseEnabled"] is True
    policies = resources(queue.to_json(), "AWS::SQS::QueuePolicy").values()
    denies = [
        s
        for p in policies
        for s in statements(p["Properties"]["PolicyDocument"])
        if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(denies) == 2


def test_visibility_timeout_is_six_times_the_function_timeout(queue: Template) -> None:
    queue.has_resource_properties(
        "AWS::SQS::Queue", {"VisibilityTimeout": 6 * DEFAULTS.filer_timeout_minutes * 60}
    )


def test_only_manifest_keys_under_incoming_produce_messages(queue: Template) -> None:
    queue.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "NotificationConfiguration": {
                "QueueConfigurations": [
                    {
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {
                            "Key": {
                                "FilterRules": Match.array_with(
                                    [
                                        {"Name": "suffix", "Value": MANIFEST_NAME},
                                        {"Name": "prefix", "Value": INCOMING_PREFIX},
                                    ]
                                )
                            }
                        },
                        "QueueArn": Match.any_value(),
                    }
                ]
            }
        },
    )


# --- filer -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def filer() -> Template:
    stack = bare_stack()
    staging = s3.Bucket(stack, "Staging")
    archive = s3.Bucket(stack, "Archive")
    q = sqs.Queue(stack, "Queue")
    Filer(stack, "Filer", settings=DEFAULTS, staging_bucket=staging, archive_bucket=archive, queue=q)
    return Template.from_stack(stack)


def test_filer_is_a_container_image_sized_for_a_large_run(filer: Template) -> None:
    filer.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "PackageType": "Image",
            "MemorySize": DEFAULTS.filer_memory_mb,
            "EphemeralStorage": {"Size": 2048},
            "Timeout": 15 * 60,
            "Architectures": ["x86_64"],
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "STAGING_BUCKET": {"Ref": Match.string_like_regexp("^Staging")},
                        "ARCHIVE_BUCKET": {"Ref": Match.string_like_regexp("^Archive")},
                        "POWERTOOLS_SERVICE_NAME": "artifact-filer",
                        "POWERTOOLS_METRICS_NAMESPACE": Match.any_value(),
                        "POWERTOOLS_LOG_LEVEL": "INFO",
                    }
                )
            },
        },
    )
    assert DEFAULTS.filer_memory_mb >= 1024


def test_filer_retires_reuse_sources_before_they_reach_glacier(filer: Template) -> None:
    (function,) = resources(filer.to_json(), "AWS::Lambda::Function").values()
    days = int(function["Properties"]["Environment"]["Variables"]["FILER_REUSE_MAX_AGE_DAYS"])
    assert 0 < days < DEFAULTS.glacier_transition_days


def test_filer_reports_batch_item_failures(filer: Template) -> None:
    filer.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": DEFAULTS.filer_batch_size,
            "ScalingConfig": {"MaximumConcurrency": DEFAULTS.filer_max_concurrency},
        },
    )


def filer_statements(template: Template) -> list[dict[str, Any]]:
    found = []
    for policy in resources(template.to_json(), "AWS::IAM::Policy").values():
        found += statements(policy["Properties"]["PolicyDocument"])
    return found


def test_filer_role_has_no_wildcard_action_and_no_managed_policy(filer: Template) -> None:
    for statement in filer_statements(filer):
        for action in as_list(statement["Action"]):
            assert "*" not in action, statement
    (role,) = resources(filer.to_json(), "AWS::IAM::Role").values()
    assert "ManagedPolicyArns" not in role["Properties"]


def test_filer_may_delete_in_staging_only_and_never_in_the_archive(filer: Template) -> None:
    deleting = [
        s for s in filer_statements(filer) if any(a.startswith("s3:Delete") for a in as_list(s["Action"]))
    ]
    assert deleting
    for statement in deleting:
        assert "Archive" not in resource_text(statement)
        assert f"/{INCOMING_PREFIX}*" in resource_text(statement)
        assert RECEIPTS_PREFIX not in resource_text(statement)


def test_filer_keeps_its_progress_notes_and_continues_on_its_own_queue(filer: Template) -> None:
    touching = [s for s in filer_statements(filer) if f"/{PROGRESS_PREFIX}*" in resource_text(s)]
    actions = {a for s in touching for a in as_list(s["Action"])}
    assert actions == {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"}
    # Beside what the event source mapping needs to receive: sending, and only to its own queue.
    sending = [s for s in filer_statements(filer) if "sqs:SendMessage" in as_list(s["Action"])]
    assert [as_list(s["Action"]) for s in sending] == [["sqs:SendMessage"]]
    (queue_id,) = resources(filer.to_json(), "AWS::SQS::Queue")
    assert [s["Resource"] for s in sending] == [{"Fn::GetAtt": [queue_id, "Arn"]}]
    (function,) = resources(filer.to_json(), "AWS::Lambda::Function").values()
    assert function["Properties"]["Environment"]["Variables"]["FILER_QUEUE_URL"] == {"Ref": queue_id}


def test_filer_writes_staging_only_under_receipts_and_quarantine(filer: Template) -> None:
    for statement in filer_statements(filer):
        if "s3:PutObject" in as_list(statement["Action"]) and "Staging" in resource_text(statement):
            assert INCOMING_PREFIX not in resource_text(statement)
            assert RECEIPTS_PREFIX in resource_text(statement)
            assert QUARANTINE_PREFIX in resource_text(statement)


def test_filer_may_write_and_tag_archive_objects(filer: Template) -> None:
    archive_actions = {
        a for s in filer_statements(filer) if "Archive" in resource_text(s) for a in as_list(s["Action"])
    }
    assert archive_actions == {
        "s3:PutObject",
        "s3:PutObjectTagging",
        "s3:AbortMultipartUpload",
        "s3:GetObject",
        "s3:ListBucket",
        # An upload without a timestamp: whether the archive keeps versions, and its own versions.
        "s3:GetBucketVersioning",
        "s3:ListBucketVersions",
        "s3:GetObjectVersion",
    }


def test_filer_reads_and_writes_the_reuse_index_but_never_deletes_it(filer: Template) -> None:
    touching = [s for s in filer_statements(filer) if f"/{INDEX_PREFIX}*" in resource_text(s)]
    actions = {a for s in touching for a in as_list(s["Action"])}
    assert actions == {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"}
