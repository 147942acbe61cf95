"""Each construct on its own, in a bare stack: the properties it promises, independent of the rest."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template
from infra_support import as_list, resources, statements

from infra.components import AccessPolicies, Alarms, ArchiveBucket, Filer, FilerQueue, StagingBucket
from infra.contract import (
    INCOMING_PREFIX,
    INDEX_PREFIX,
    MANIFEST_NAME,
    PIN_NOTE_NAME,
    PROGRESS_PREFIX,
    QUARANTINE_PREFIX,
    RECEIPTS_PREFIX,
    RETENTION_PINNED,
    RETENTION_STANDARD,
    RUNS_FOLDER,
    TAG_MANAGED,
    TAG_MANAGED_VALUE,
    TAG_RETENTION,
)
from infra.lifecycle import ABORT_UPLOADS_RULE_ID, NONCURRENT_RULE_ID, archive_rules
from infra.settings import Settings

DEFAULTS = Settings()


def bare_stack() -> Stack:
    return Stack(App(), "Bare")


def tls_only_policy() -> dict[str, Any]:
    return {
        "PolicyDocument": {
            "Statement": Match.array_with(
                [
                    Match.object_like(
                        {
                            "Effect": "Deny",
                            "Action": "s3:*",
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    )
                ]
            )
        }
    }


# --- staging -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def staging() -> Template:
    stack = bare_stack()
    StagingBucket(stack, "Staging", settings=DEFAULTS)
    return Template.from_stack(stack)


def test_staging_is_private_encrypted_and_tls_only(staging: Template) -> None:
    staging.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        },
    )
    staging.has_resource_properties("AWS::S3::BucketPolicy", tls_only_policy())


def test_staging_objects_expire_and_unfinished_uploads_are_aborted_after_a_day(staging: Template) -> None:
    rules = next(iter(resources(staging.to_json(), "AWS::S3::Bucket").values()))["Properties"][
        "LifecycleConfiguration"
    ]["Rules"]
    by_prefix = {r.get("Prefix"): r for r in rules}
    assert by_prefix[INCOMING_PREFIX]["ExpirationInDays"] == DEFAULTS.staging_expiration_days
    assert by_prefix[RECEIPTS_PREFIX]["ExpirationInDays"] == DEFAULTS.staging_expiration_days
    assert by_prefix[QUARANTINE_PREFIX]["ExpirationInDays"] == DEFAULTS.quarantine_expiration_days
    assert by_prefix[PROGRESS_PREFIX]["ExpirationInDays"] == DEFAULTS.staging_expiration_days
    abort = by_prefix[None]
    assert abort["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert "ExpirationInDays" not in abort
    assert 1 <= DEFAULTS.staging_expiration_days <= 7


# --- archive, created ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def archive() -> Template:
    stack = bare_stack()
    ArchiveBucket(stack, "Archive", settings=DEFAULTS)
    return Template.from_stack(stack)


def test_created_archive_is_versioned_encrypted_blocked_tls_only_and_retained(archive: Template) -> None:
    archive.has_resource(
        "AWS::S3::Bucket",
        {
            "Properties": Match.object_like(
                {
                    "VersioningConfiguration": {"Status": "Enabled"},
                    "BucketEncryption": Match.any_value(),
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                }
            ),
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )
    archive.has_resource_properties("AWS::S3::BucketPolicy", tls_only_policy())
    archive.resource_count_is("Custom::ArchiveBucketSettings", 0)


def archive_cfn_rules(template: Template) -> dict[str, dict[str, Any]]:
    bucket = next(iter(resources(template.to_json(), "AWS::S3::Bucket").values()))
    return {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}


def test_artifacts_go_to_glacier_after_90_days_selected_by_the_filers_tag(archive: Template) -> None:
    rules = archive_cfn_rules(archive)
    transitions = [r for r in rules.values() if "Transitions" in r]
    assert len(transitions) == 1
    (rule,) = transitions
    assert rule["Transitions"] == [{"StorageClass": "GLACIER", "TransitionInDays": 90}]
    assert rule["TagFilters"] == [{"Key": TAG_MANAGED, "Value": TAG_MANAGED_VALUE}]
    assert "Prefix" not in rule


def test_every_rule_that_touches_objects_requires_the_managed_tag(archive: Template) -> None:
    for rule_id, rule in archive_cfn_rules(archive).items():
        if rule_id == ABORT_UPLOADS_RULE_ID:
            # Only unfinished multipart uploads, which are not objects; S3 refuses tags here.
            assert set(rule) == {"Id", "Status", "AbortIncompleteMultipartUpload"}
            continue
        assert {"Key": TAG_MANAGED, "Value": TAG_MANAGED_VALUE} in rule["TagFilters"], rule_id


def test_pinned_artifacts_are_kept_out_of_every_expiration() -> None:
    stack = bare_stack()
    settings = Settings.from_mapping(
        {"archive_expiration_days": 3650, "noncurrent_version_expiration_days": 30}
    )
    ArchiveBucket(stack, "Archive", settings=settings)
    rules = archive_cfn_rules(Template.from_stack(stack))
    expiring = [r for r in rules.values() if "ExpirationInDays" in r or "NoncurrentVersionExpiration" in r]
    assert len(expiring) == 2
    for rule in expiring:
        # retention=standard is required, so re-tagging a run's objects "pinned" takes them out.
        assert {"Key": TAG_RETENTION, "Value": RETENTION_STANDARD} in rule["TagFilters"]
        assert all(t["Value"] != RETENTION_PINNED for t in rule["TagFilters"])


def test_nothing_expires_by_default_not_even_replaced_versions(archive: Template) -> None:
    """An earlier upload without a timestamp lives on as noncurrent versions its record names."""
    assert DEFAULTS.noncurrent_version_expiration_days == 0
    rules = archive_cfn_rules(archive)
    assert not [r for r in rules.values() if "ExpirationInDays" in r]
    assert not [r for r in rules.values() if "NoncurrentVersionExpiration" in r]
    assert NONCURRENT_RULE_ID not in rules
    assert rules[ABORT_UPLOADS_RULE_ID]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": DEFAULTS.archive_abort_incomplete_upload_days
    }


def test_expiring_replaced_versions_is_opt_in_and_spares_pinned_ones() -> None:
    stack = bare_stack()
    settings = Settings.from_mapping({"noncurrent_version_expiration_days": "45"})
    ArchiveBucket(stack, "Archive", settings=settings)
    rules = archive_cfn_rules(Template.from_stack(stack))
    rule = rules[NONCURRENT_RULE_ID]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 45}
    assert {"Key": TAG_RETENTION, "Value": RETENTION_STANDARD} in rule["TagFilters"]
    assert {"Key": TAG_MANAGED, "Value": TAG_MANAGED_VALUE} in rule["TagFilters"]


def test_storage_class_and_days_come_from_the_settings() -> None:
    stack = bare_stack()
    settings = Settings.from_mapping(
        {"glacier_transition_days": "180", "glacier_storage_class": "DEEP_ARCHIVE"}
    )
    ArchiveBucket(stack, "Archive", settings=settings)
    (rule,) = [r for r in archive_cfn_rules(Template.from_stack(stack)).values() if "Transitions" in r]
    assert rule["Transitions"] == [{"StorageClass": "DEEP_ARCHIVE", "TransitionInDays": 180}]


# --- archive, imported -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def imported() -> Template:
    stack = bare_stack()
    ArchiveBucket(
        stack, "Archive", settings=Settings.from_mapping({"import_archive_bucket_name": "rmi-360-raw"})
    )
    return Template.from_stack(stack)


def test_an_imported_archive_is_not_created_or_replaced(imported: Template) -> None:
    imported.resource_count_is("AWS::S3::Bucket", 0)
    imported.resource_count_is("AWS::S3::BucketPolicy", 0)
    imported.resource_count_is("Custom::ArchiveBucketSettings", 1)


def test_an_imported_archive_gets_the_same_rules_merged_not_replaced(
    imported: Template, archive: Template
) -> None:
    (settings,) = resources(imported.to_json(), "Custom::ArchiveBucketSettings").values()
    props = settings["Properties"]
    assert props["BucketName"] == "rmi-360-raw"
    assert props["RuleIdPrefix"] == "artifact-backup-"
    api_rules = json.loads(props["LifecycleRules"])
    assert api_rules == archive_rules(DEFAULTS)
    # The same rules a created bucket gets: compare the two shapes field by field.
    cfn_rules = archive_cfn_rules(archive)
    assert {r["ID"] for r in api_rules} == set(cfn_rules)
    for rule in api_rules:
        cfn = cfn_rules[rule["ID"]]
        if "Transitions" in rule:
            assert [(t["Days"], t["StorageClass"]) for t in rule["Transitions"]] == [
                (t["TransitionInDays"], t["StorageClass"]) for t in cfn["Transitions"]
            ]
        tags = (
            rule["Filter"].get("Tag")
            and [rule["Filter"]["Tag"]]
            or rule["Filter"].get("And", {}).get("Tags", [])
        )
        assert tags == cfn.get("TagFilters", [])


def test_the_settings_function_may_only_touch_that_bucket_s_configuration(imported: Template) -> None:
    template = imported.to_json()
    (policy,) = [
        p
        for p in resources(template, "AWS::IAM::Policy").values()
        if "Settings" in json.dumps(p["Properties"]["Roles"])
    ]
    s3_statements = [
        s for s in statements(policy["Properties"]["PolicyDocument"]) if "s3:" in json.dumps(s["Action"])
    ]
    (statement,) = s3_statements
    assert all(not a.endswith("*") and "Object" not in a for a in statement["Action"])
    assert json.dumps(statement["Resource"]).count("rmi-360-raw") == 1
    assert "rmi-360-raw/" not in json.dumps(statement["Resource"])


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


def _targets(statement: dict[str, Any]) -> str:
    return json.dumps(statement["Resource"])


def test_filer_may_delete_in_staging_only_and_never_in_the_archive(filer: Template) -> None:
    deleting = [
        s for s in filer_statements(filer) if any(a.startswith("s3:Delete") for a in as_list(s["Action"]))
    ]
    assert deleting
    for statement in deleting:
        assert "Archive" not in _targets(statement)
        assert f"/{INCOMING_PREFIX}*" in _targets(statement)
        assert RECEIPTS_PREFIX not in _targets(statement)


def test_filer_keeps_its_progress_notes_and_continues_on_its_own_queue(filer: Template) -> None:
    touching = [s for s in filer_statements(filer) if f"/{PROGRESS_PREFIX}*" in _targets(s)]
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
        if "s3:PutObject" in as_list(statement["Action"]) and "Staging" in _targets(statement):
            assert INCOMING_PREFIX not in _targets(statement)
            assert RECEIPTS_PREFIX in _targets(statement)
            assert QUARANTINE_PREFIX in _targets(statement)


def test_filer_may_write_and_tag_archive_objects(filer: Template) -> None:
    archive_actions = {
        a for s in filer_statements(filer) if "Archive" in _targets(s) for a in as_list(s["Action"])
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
    touching = [s for s in filer_statements(filer) if f"/{INDEX_PREFIX}*" in _targets(s)]
    actions = {a for s in touching for a in as_list(s["Action"])}
    assert actions == {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"}


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
    assert f"/{RECEIPTS_PREFIX}${{aws:PrincipalTag/" in _targets(read)
    assert INCOMING_PREFIX not in _targets(read)
    (put,) = [s for s in uploader if "s3:PutObject" in as_list(s["Action"])]
    assert f"/{INCOMING_PREFIX}${{aws:PrincipalTag/" in _targets(put)
    assert RECEIPTS_PREFIX not in _targets(put)


def test_uploader_reads_the_reuse_index_and_cannot_write_it(access: Template) -> None:
    uploader = managed_policy(access, "Uploader")
    (read,) = [s for s in uploader if "s3:GetObject" in as_list(s["Action"])]
    assert f"/{INDEX_PREFIX}${{aws:PrincipalTag/" in _targets(read)
    for statement in uploader:
        if set(as_list(statement["Action"])) & {"s3:PutObject", "s3:DeleteObject"}:
            assert INDEX_PREFIX not in _targets(statement)


def test_the_reuse_index_does_not_expire_with_the_receipts(staging: Template) -> None:
    rules = next(iter(resources(staging.to_json(), "AWS::S3::Bucket").values()))["Properties"][
        "LifecycleConfiguration"
    ]["Rules"]
    assert all(not (r.get("Prefix") or "-").startswith(INDEX_PREFIX) for r in rules)
    assert all("ExpirationInDays" not in r for r in rules if not r.get("Prefix"))


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
    assert f"/*/{RUNS_FOLDER}/*/{PIN_NOTE_NAME}\"" in _targets(notes)
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
