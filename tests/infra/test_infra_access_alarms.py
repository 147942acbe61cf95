"""The access policies and the alarms, each construct on its own in a bare stack: the properties it promises,
independent of the rest."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template
from infra_support import as_list, bare_stack, resource_text, resources, statements

from infra.components import AccessPolicies, Alarms
from infra.contract import (
    INCOMING_PREFIX,
    INDEX_PREFIX,
    PIN_NOTE_NAME,
    RECEIPTS_PREFIX,
    RETENTION_PINNED,
    RETENTION_STANDARD,
    RUNS_FOLDER,
    TAG_MANAGED,
    TAG_RETENTION,
)
from infra.settings import Settings

# --- access ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def access() -> Template:
    stack = bare_stack()
    AccessPolicies(
        stack,
        "Access",
        staging_bucket=s3.Bucket(stack, "Staging"),
        archive_bucket=s3.Bucket(stack, "Archive"),
    )
    return Template.from_stack(stack)


def managed_policy(template: Template, name: str) -> list[dict[str, Any]]:
    (policy,) = [
        p
        for k, p in resources(template.to_json(), "AWS::IAM::ManagedPolicy").items()
        if k.startswith(f"Access{name}")
    ]
    return statements(policy["Properties"]["PolicyDocument"])


def test_uploader_names_nothing_in_the_archive(access: Template) -> None:
    uploader = managed_policy(access, "Uploader")
    assert "Archive" not in json.dumps(uploader)
    actions = {a for s in uploader for a in as_list(s["Action"])}
    assert actions == {
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
        "s3:GetObject",
        "s3:ListBucket",
    }
    (read,) = [s for s in uploader if "s3:GetObject" in as_list(s["Action"])]
    assert f"/{RECEIPTS_PREFIX}${{aws:PrincipalTag/" in resource_text(read)
    assert INCOMING_PREFIX not in resource_text(read)
    (put,) = [s for s in uploader if "s3:PutObject" in as_list(s["Action"])]
    assert f"/{INCOMING_PREFIX}${{aws:PrincipalTag/" in resource_text(put)
    assert RECEIPTS_PREFIX not in resource_text(put)


def test_uploader_reads_the_reuse_index_and_cannot_write_it(access: Template) -> None:
    uploader = managed_policy(access, "Uploader")
    (read,) = [s for s in uploader if "s3:GetObject" in as_list(s["Action"])]
    assert f"/{INDEX_PREFIX}${{aws:PrincipalTag/" in resource_text(read)
    for statement in uploader:
        if set(as_list(statement["Action"])) & {"s3:PutObject", "s3:DeleteObject"}:
            assert INDEX_PREFIX not in resource_text(statement)


def test_reader_lists_downloads_restores_and_pins_only_filed_artifacts(access: Template) -> None:
    reader = managed_policy(access, "Reader")
    assert "Staging" not in json.dumps(reader)
    by_sid = {s["Sid"]: s for s in reader}
    assert set(by_sid) == {
        "ListArchive",
        "DownloadArchive",
        "RestoreArtifacts",
        "WritePinNotes",
        "PinArtifacts",
    }
    # An earlier upload without a timestamp is read, and pinned, at the versions its record names.
    assert "s3:GetObjectVersion" in as_list(by_sid["DownloadArchive"]["Action"])
    assert "s3:PutObjectVersionTagging" in as_list(by_sid["PinArtifacts"]["Action"])
    notes = by_sid["WritePinNotes"]
    assert notes["Action"] == "s3:PutObject"
    assert f"/*/{RUNS_FOLDER}/*/{PIN_NOTE_NAME}\"" in resource_text(notes)
    # S3 supplies no object-tag key for RestoreObject: a tag condition would deny every restore.
    assert "Condition" not in by_sid["RestoreArtifacts"]
    pin = by_sid["PinArtifacts"]
    assert as_list(pin["Action"]) == ["s3:PutObjectTagging", "s3:PutObjectVersionTagging"]
    assert pin["Condition"]["StringEquals"][f"s3:RequestObjectTag/{TAG_RETENTION}"] == [
        RETENTION_STANDARD,
        RETENTION_PINNED,
    ]
    assert pin["Condition"]["ForAllValues:StringEquals"]["s3:RequestObjectTagKeys"] == [
        TAG_MANAGED,
        TAG_RETENTION,
    ]
    assert not any("Delete" in a for s in reader for a in as_list(s["Action"]))


# --- alarms ----------------------------------------------------------------------------------------


def alarms_template(email: str) -> Template:
    stack = bare_stack()
    from aws_cdk import aws_lambda as lambda_

    function = lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(e, c): pass"),
    )
    Alarms(
        stack,
        "Alarms",
        settings=Settings.from_mapping({"alarm_email": email}),
        queue=sqs.Queue(stack, "Queue"),
        dead_letter_queue=sqs.Queue(stack, "Dlq"),
        function=function,
    )
    return Template.from_stack(stack)


def test_alarms_watch_the_dlq_errors_throttles_and_the_oldest_message() -> None:
    template = alarms_template("")
    alarms = resources(template.to_json(), "AWS::CloudWatch::Alarm").values()
    metrics = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"] for a in alarms}
    assert set(metrics) == {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
    }
    dlq = metrics[("AWS/SQS", "ApproximateNumberOfMessagesVisible")]
    assert json.dumps(dlq["Dimensions"]).count("Dlq") == 1
    assert dlq["Threshold"] == 1
    assert metrics[("AWS/SQS", "ApproximateAgeOfOldestMessage")]["Threshold"] == 3600
    template.resource_count_is("AWS::SNS::Topic", 0)
    assert all("AlarmActions" not in a for a in metrics.values())


def test_an_alarm_email_adds_a_tls_only_topic_every_alarm_notifies() -> None:
    template = alarms_template("ops@example.com")
    template.resource_count_is("AWS::SNS::Topic", 1)
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            }
        },
    )
    for alarm in resources(template.to_json(), "AWS::CloudWatch::Alarm").values():
        assert len(alarm["Properties"]["AlarmActions"]) == 1
