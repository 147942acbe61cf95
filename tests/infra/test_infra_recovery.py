"""Object Lock, the archive key, the audit trail and the replica: each construct alone in a bare stack,
then the settings and how they are refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from infra_support import as_list, resources, statements

from infra.components import ArchiveBucket
from infra.components.audit import ArchiveTrail, AuditLogBucket
from infra.components.encryption import ADMIN_ACTIONS, ArchiveKey
from infra.components.immutability import legal_hold_statements
from infra.contract import RUNS_FOLDER, TAG_MANAGED
from infra.settings import Settings

KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MRK_ARN = "arn:aws:kms:eu-west-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef"
USE_ACTIONS = {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"}


def bare_stack(region: str | None = None) -> Stack:
    return Stack(App(), "Bare", env=Environment(region=region) if region else None)


def settings(**values: Any) -> Settings:
    return Settings.from_mapping(values)


def only(template: Template, kind: str) -> dict[str, Any]:
    (resource,) = resources(template.to_json(), kind).values()
    return resource


def checkov_skips(resource: dict[str, Any]) -> dict[str, str]:
    return {s["id"]: s["comment"] for s in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])}


# --- the archive key ---------------------------------------------------------------------------------


def key_template(value: str) -> tuple[Template, ArchiveKey]:
    stack = bare_stack()
    key = ArchiveKey(stack, "ArchiveKey", settings=settings(archive_kms_key=value))
    role = iam.Role(stack, "FilerRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    replication = iam.Role(stack, "ReplicationRole", assumed_by=iam.ServicePrincipal("s3.amazonaws.com"))
    reader = iam.ManagedPolicy(stack, "Reader", statements=[
        iam.PolicyStatement(actions=["s3:ListBucket"], resources=["arn:aws:s3:::rmi-360-raw"])])
    key.allow_filer(role, "arn:aws:s3:::rmi-360-raw")
    key.allow_readers(reader, "arn:aws:s3:::rmi-360-raw")
    key.allow_replication(replication, "arn:aws:s3:::rmi-360-raw")
    return Template.from_stack(stack), key


def test_a_created_key_rotates_is_kept_and_grants_each_use_to_its_user_only() -> None:
    template, _ = key_template("create")
    key = only(template, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    by_sid = {s["Sid"]: s for s in statements(key["Properties"]["KeyPolicy"])}
    assert set(by_sid) == {
        "AccountAdministersTheKeyButCannotUseIt",
        "FilerEncryptsAndDecryptsArchiveObjects",
        "ReadersDecryptArchiveObjects",
        "ReplicationDecryptsArchiveObjects",
    }
    admin = by_sid["AccountAdministersTheKeyButCannotUseIt"]
    assert set(admin["Action"]) == set(ADMIN_ACTIONS)
    assert not set(admin["Action"]) & USE_ACTIONS
    assert not any("*" in a for a in admin["Action"])
    filer = by_sid["FilerEncryptsAndDecryptsArchiveObjects"]
    assert set(filer["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert "FilerRole" in json.dumps(filer["Principal"])
    assert as_list(by_sid["ReplicationDecryptsArchiveObjects"]["Action"]) == ["kms:Decrypt"]
    assert "ReplicationRole" in json.dumps(by_sid["ReplicationDecryptsArchiveObjects"]["Principal"])
    for statement in by_sid.values():
        if statement is not admin:
            assert statement["Condition"]["StringEquals"]["kms:ViaService"] == {
                "Fn::Join": ["", ["s3.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]
            }


def test_readers_decrypt_through_their_policy_only_for_the_archive() -> None:
    template, _ = key_template("create")
    reader = only(template, "AWS::IAM::ManagedPolicy")
    document = reader["Properties"]["PolicyDocument"]
    (kms,) = [s for s in statements(document) if s.get("Sid") == "DecryptArchiveObjects"]
    # A pin note is a write: it needs a data key, nothing else does.
    assert set(kms["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert kms["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"] == [
        "arn:aws:s3:::rmi-360-raw", "arn:aws:s3:::rmi-360-raw/*"
    ]


def test_a_key_named_by_arn_is_granted_through_the_roles_not_its_policy() -> None:
    template, key = key_template(KEY_ARN)
    template.resource_count_is("AWS::KMS::Key", 0)
    assert key.key is not None
    assert not key.created
    granted = [s for p in resources(template.to_json(), "AWS::IAM::Policy").values()
               for s in statements(p["Properties"]["PolicyDocument"])]
    assert {s["Sid"]: s["Resource"] for s in granted} == {
        "FilerEncryptsAndDecryptsArchiveObjects": KEY_ARN,
        "ReplicationDecryptsArchiveObjects": KEY_ARN,
    }


def test_no_key_means_s3_managed_keys_and_no_kms_grant() -> None:
    template, key = key_template("")
    assert key.key is None
    template.resource_count_is("AWS::KMS::Key", 0)
    assert "kms:" not in json.dumps(template.to_json())


# --- the archive bucket: key, Object Lock, access logs ----------------------------------------------


def archive_template(audit: bool = True, **values: Any) -> Template:
    stack = bare_stack()
    config = settings(**values)
    key = ArchiveKey(stack, "ArchiveKey", settings=config)
    logs = AuditLogBucket(stack, "AuditLogs", settings=config) if audit else None
    ArchiveBucket(stack, "Archive", settings=config, encryption_key=key.key,
                  access_logs=logs.bucket if logs else None)
    return Template.from_stack(stack)


def archive_props(template: Template) -> dict[str, Any]:
    buckets = resources(template.to_json(), "AWS::S3::Bucket")
    (archive,) = [b for k, b in buckets.items() if k.startswith("Archive")]
    return archive["Properties"]


def test_the_archive_uses_the_key_with_bucket_keys_on() -> None:
    encryption = archive_props(archive_template(archive_kms_key="create"))["BucketEncryption"]
    (rule,) = encryption["ServerSideEncryptionConfiguration"]
    assert rule["BucketKeyEnabled"] is True
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert "ArchiveKey" in json.dumps(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])


@pytest.mark.parametrize("mode", ["GOVERNANCE", "COMPLIANCE"])
def test_object_lock_is_enabled_with_the_default_retention(mode: str) -> None:
    props = archive_props(archive_template(object_lock_mode=mode, object_lock_retention_days=400))
    assert props["ObjectLockEnabled"] is True
    assert props["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": mode, "Days": 400}}
    }


def test_no_object_lock_by_default() -> None:
    props = archive_props(archive_template())
    assert "ObjectLockEnabled" not in props
    assert "ObjectLockConfiguration" not in props


def test_the_archive_logs_its_requests_into_the_log_bucket_which_only_s3_logging_may_write() -> None:
    template = archive_template()
    logging = archive_props(template)["LoggingConfiguration"]
    assert logging["LogFilePrefix"] == "archive/"
    assert logging["DestinationBucketName"]["Ref"].startswith("AuditLogs")
    log_policies = [p for k, p in resources(template.to_json(), "AWS::S3::BucketPolicy").items()
                    if k.startswith("AuditLogs")]
    (delivery,) = [s for p in log_policies for s in statements(p["Properties"]["PolicyDocument"])
                   if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}]
    assert delivery["Action"] == "s3:PutObject"
    assert "Archive" in json.dumps(delivery["Condition"]["ArnLike"]["aws:SourceArn"])
    assert "aws:SourceAccount" in delivery["Condition"]["StringEquals"]


def test_without_access_logs_the_archive_says_why_to_checkov() -> None:
    template = archive_template(audit=False, audit_trail="cloudtrail")
    buckets = resources(template.to_json(), "AWS::S3::Bucket")
    (archive,) = buckets.values()
    assert "LoggingConfiguration" not in archive["Properties"]
    assert "CloudTrail" in checkov_skips(archive)["CKV_AWS_18"]


# --- the audit trail --------------------------------------------------------------------------------


def test_the_log_bucket_keeps_records_for_its_own_retention() -> None:
    stack = bare_stack()
    AuditLogBucket(stack, "AuditLogs", settings=settings(audit_log_retention_days=730))
    template = Template.from_stack(stack)
    bucket = only(template, "AWS::S3::Bucket")
    (rule,) = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 730
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert set(checkov_skips(bucket)) == {"CKV_AWS_18"}


def test_the_trail_records_the_archive_s_data_events_only() -> None:
    stack = bare_stack()
    archive = s3.Bucket(stack, "Archive")
    logs = AuditLogBucket(stack, "AuditLogs", settings=settings())
    ArchiveTrail(stack, "Trail", archive_bucket=archive, log_bucket=logs.bucket)
    trail = only(Template.from_stack(stack), "AWS::CloudTrail::Trail")["Properties"]
    assert trail["EnableLogFileValidation"] is True
    assert trail["IsMultiRegionTrail"] is False
    assert trail["S3BucketName"]["Ref"].startswith("AuditLogs")
    (selector,) = trail["EventSelectors"]
    assert selector["IncludeManagementEvents"] is False
    (data,) = selector["DataResources"]
    assert data["Type"] == "AWS::S3::Object"
    assert "Archive" in json.dumps(data["Values"])


# --- Object Lock access -------------------------------------------------------------------------------


def test_readers_detect_object_lock_always_and_hold_only_when_the_archive_has_it() -> None:
    stack = bare_stack()
    bucket = s3.Bucket(stack, "Archive")
    assert [s.to_statement_json()["Action"] for s in legal_hold_statements(settings(), bucket)] == [
        "s3:GetBucketObjectLockConfiguration"
    ]
    locked_settings = settings(object_lock_mode="GOVERNANCE")
    locked = [s.to_statement_json() for s in legal_hold_statements(locked_settings, bucket)]
    holds = {s["Sid"]: s for s in locked if s["Action"] == "s3:PutObjectLegalHold"}
    assert set(holds) == {"HoldPinnedRuns", "HoldPinnedRunRecords"}
    assert TAG_MANAGED in json.dumps(holds["HoldPinnedRuns"]["Condition"])
    records = Stack.of(bucket).resolve(holds["HoldPinnedRunRecords"]["Resource"])
    assert f"/*/{RUNS_FOLDER}/*" in json.dumps(records)
