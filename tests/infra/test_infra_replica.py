"""The replica and the replication into it, each construct alone; then every recovery setting alone and
all together as `cdk synth` builds the two stacks (cdk-nag, cfn-lint, the wiring between them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template
from infra_support import Synth, as_list, cdk_json_context, resources, statements, synthesize

from infra.components import ArchiveBucket
from infra.components.encryption import ArchiveKey
from infra.components.replica import ArchiveReplication, ReplicaBucket, replica_bucket_name
from infra.lifecycle import archive_rules, to_cdk_rules
from infra.settings import Settings
from infra.stack import OUTPUT_REPLICA_BUCKET

REGION = "eu-central-1"
MRK_ARN = "arn:aws:kms:eu-west-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef"


def settings(**values: Any) -> Settings:
    return Settings.from_mapping({"replica_region": REGION, **values})


def replica_template(**values: Any) -> Template:
    stack = Stack(App(), "Replica", env=Environment(region=REGION))
    ReplicaBucket(stack, "Replica", settings=settings(**values), access_logs=s3.Bucket(stack, "Logs"))
    return Template.from_stack(stack)


def bucket_named(template: Template, prefix: str) -> dict[str, Any]:
    found = resources(template.to_json(), "AWS::S3::Bucket")
    (bucket,) = [b for k, b in found.items() if k.startswith(prefix)]
    return bucket


# --- the replica bucket ----------------------------------------------------------------------------


def test_the_replica_takes_the_archive_s_own_lifecycle_rules() -> None:
    values = {"glacier_transition_days": 120, "archive_expiration_days": 3650}
    replica = bucket_named(replica_template(**values), "Replica")["Properties"]
    stack = Stack(App(), "Archive")
    ArchiveBucket(stack, "Archive", settings=settings(**values))
    archive = bucket_named(Template.from_stack(stack), "Archive")["Properties"]
    assert replica["LifecycleConfiguration"] == archive["LifecycleConfiguration"]
    rules = replica["LifecycleConfiguration"]["Rules"]
    assert len(rules) == len(to_cdk_rules(archive_rules(settings(**values))))


def test_the_replica_is_versioned_encrypted_private_retained_and_named() -> None:
    template = replica_template(replica_bucket_name="rmi-360-raw-replica")
    replica = bucket_named(template, "Replica")
    props = replica["Properties"]
    assert props["BucketName"] == "rmi-360-raw-replica"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert props["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    assert props["LoggingConfiguration"]["LogFilePrefix"] == "archive/"
    assert replica["DeletionPolicy"] == "Retain"
    assert "ObjectLockEnabled" not in props


def test_the_default_name_is_unique_per_account_and_region_and_fits_s3() -> None:
    name = Stack(App(), "S").resolve(replica_bucket_name(settings(stack_name="A" * 120)))
    parts = name["Fn::Join"][1]
    assert parts[0] == "a" * 20 + "-replica-"
    assert parts[1] == {"Ref": "AWS::AccountId"}
    assert parts[2] == f"-{REGION}"
    assert len(parts[0]) + 12 + len(parts[2]) <= 63


def test_the_replica_gets_object_lock_and_its_own_rotating_key() -> None:
    template = replica_template(object_lock_mode="COMPLIANCE", object_lock_retention_days=10,
                                archive_kms_key="create")
    props = bucket_named(template, "Replica")["Properties"]
    assert props["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Days": 10}
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["BucketKeyEnabled"] is True
    key = next(iter(resources(template.to_json(), "AWS::KMS::Key").values()))
    assert key["Properties"]["EnableKeyRotation"] is True
    template.has_resource_properties(
        "AWS::KMS::Alias", {"AliasName": "alias/artifact-backup/artifactbackup-replica"})
    by_sid = {s["Sid"]: s for s in statements(key["Properties"]["KeyPolicy"])}
    encrypt = by_sid["ReplicationEncryptsReplicas"]
    assert set(encrypt["Action"]) == {"kms:Encrypt", "kms:GenerateDataKey"}
    assert "-replication-*" in json.dumps(encrypt["Condition"]["ArnLike"]["aws:PrincipalArn"])
    assert encrypt["Condition"]["StringEquals"]["kms:ViaService"] == f"s3.{REGION}.amazonaws.com"
    assert as_list(by_sid["ReadersDecryptReplicas"]["Action"]) == ["kms:Decrypt"]


def test_a_multi_region_key_is_used_by_its_replica_in_the_replica_s_region() -> None:
    template = replica_template(archive_kms_key=MRK_ARN)
    template.resource_count_is("AWS::KMS::Key", 0)
    encryption = bucket_named(template, "Replica")["Properties"]["BucketEncryption"]
    (rule,) = encryption["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == MRK_ARN.replace("eu-west-1", REGION)


def test_the_replica_reader_reads_and_restores_and_writes_nothing() -> None:
    template = replica_template()
    (reader,) = resources(template.to_json(), "AWS::IAM::ManagedPolicy").values()
    actions = {a for s in statements(reader["Properties"]["PolicyDocument"]) for a in as_list(s["Action"])}
    assert actions == {"s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:GetObjectTagging",
                       "s3:RestoreObject", "s3:GetBucketObjectLockConfiguration"}


# --- replication ------------------------------------------------------------------------------------


def replication_template(**values: Any) -> Template:
    stack = Stack(App(), "Main")
    config = settings(**values)
    key = ArchiveKey(stack, "ArchiveKey", settings=config)
    archive = ArchiveBucket(stack, "Archive", settings=config, encryption_key=key.key)
    ArchiveReplication(stack, "Replication", settings=config, archive=archive.bucket, archive_key=key.key)
    return Template.from_stack(stack)


def replication_rule(template: Template) -> dict[str, Any]:
    configuration = bucket_named(template, "Archive")["Properties"]["ReplicationConfiguration"]
    (rule,) = configuration["Rules"]
    return rule


def role_actions(template: Template) -> dict[str, set[str]]:
    found = resources(template.to_json(), "AWS::IAM::Policy")
    (policy,) = [p for k, p in found.items() if k.startswith("Replication")]
    return {s["Sid"]: set(as_list(s["Action"])) for s in statements(policy["Properties"]["PolicyDocument"])}


def test_objects_replicate_but_deletions_do_not() -> None:
    template = replication_template(replica_bucket_name="rmi-360-raw-replica")
    rule = replication_rule(template)
    assert rule["Status"] == "Enabled"
    assert rule["DeleteMarkerReplication"] == {"Status": "Disabled"}
    assert rule["Filter"] == {"Prefix": ""}
    assert "rmi-360-raw-replica" in json.dumps(rule["Destination"]["Bucket"])
    actions = role_actions(template)
    assert actions == {
        "ReadReplicationConfiguration": {"s3:GetReplicationConfiguration", "s3:ListBucket"},
        "ReadArchiveVersions": {"s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                                "s3:GetObjectVersionTagging"},
        "WriteReplicas": {"s3:ReplicateObject", "s3:ReplicateTags"},
    }
    template.has_resource_properties("AWS::IAM::Role", {
        "AssumeRolePolicyDocument": {"Statement": [Match.object_like({
            "Principal": {"Service": "s3.amazonaws.com"},
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}})]}})


def test_with_object_lock_replication_reads_retention_and_holds() -> None:
    actions = role_actions(replication_template(object_lock_mode="GOVERNANCE"))
    assert {"s3:GetObjectRetention", "s3:GetObjectLegalHold"} <= actions["ReadArchiveVersions"]
    assert "s3:ReplicateDelete" not in set().union(*actions.values())


def test_with_a_key_replication_selects_kms_objects_and_encrypts_with_the_replica_s_key() -> None:
    template = replication_template(archive_kms_key="create")
    rule = replication_rule(template)
    assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    assert "alias/artifact-backup/artifactbackup-replica" in json.dumps(
        rule["Destination"]["EncryptionConfiguration"]["ReplicaKmsKeyID"])
    assert role_actions(template)["EncryptReplicas"] == {"kms:Encrypt", "kms:GenerateDataKey"}


# --- the stacks, each setting alone and all together ---------------------------------------------------

VARIANTS = {
    "object-lock": {"objectLockMode": "GOVERNANCE", "objectLockRetentionDays": 30},
    "replica": {"replicaRegion": REGION},
    "kms-create": {"archiveKmsKey": "create"},
    "cloudtrail": {"auditTrail": "cloudtrail"},
    "all": {"objectLockMode": "COMPLIANCE", "replicaRegion": REGION,
            "replicaBucketName": "rmi-360-raw-replica", "archiveKmsKey": "create",
            "auditTrail": "cloudtrail", "auditLogRetentionDays": 730},
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    context = {**cdk_json_context(), **VARIANTS[request.param], "stackName": "ArtifactBackup"}
    return synthesize(tmp_path_factory.mktemp(f"cdk-{request.param}"), context)


def render(value: Any) -> str:
    """A name as CloudFormation resolves it, in account 111122223333 of the aws partition."""
    pseudo = {"AWS::AccountId": "111122223333", "AWS::Partition": "aws"}
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return pseudo[value["Ref"]]
    separator, parts = value["Fn::Join"]
    return separator.join(render(part) for part in parts)


def stacks(synth: Synth) -> list[Stack]:
    return [synth.stack] + ([synth.replica] if synth.replica is not None else [])


def test_every_variant_passes_cdk_nag_and_cfn_lint(variant: Synth) -> None:
    for stack in stacks(variant):
        annotations = Annotations.from_stack(stack)
        findings = annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
        findings += annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*"))
        assert findings == [], [f.entry.data for f in findings]
        path = Path(variant.outdir) / f"{stack.artifact_id}.template.json"
        result = subprocess.run([sys.executable, "-m", "cfnlint", "--format", "json", str(path)],
                                capture_output=True, text=True, timeout=120)
        assert [f for f in json.loads(result.stdout or "[]") if f["Level"] == "Error"] == []


def test_the_replica_stack_lives_in_its_region_and_is_deployed_first(variant: Synth) -> None:
    if variant.replica is None:
        assert "ReplicationConfiguration" not in json.dumps(variant.template_json)
        return
    assert variant.replica.region == REGION
    assert variant.replica in variant.stack.dependencies
    # No CloudFormation export crosses the regions: the main stack names the replica by its settings.
    assert "Fn::ImportValue" not in json.dumps(variant.template_json)
    replica = Template.from_stack(variant.replica).to_json()
    (bucket,) = [b for k, b in resources(replica, "AWS::S3::Bucket").items() if k.startswith("Replica")]
    destination = replication_rule(variant.template)["Destination"]["Bucket"]
    name = bucket["Properties"]["BucketName"]
    # Both stacks deploy in one account: the same name, whatever the account's number.
    assert render(destination) == f"arn:aws:s3:::{render(name)}"
    assert variant.template_json["Outputs"][OUTPUT_REPLICA_BUCKET]["Value"] == name


def test_all_together_every_principal_has_its_use_of_the_key(variant: Synth) -> None:
    keys = resources(variant.template_json, "AWS::KMS::Key")
    if not keys:
        return
    (key,) = keys.values()
    sids = {s["Sid"] for s in statements(key["Properties"]["KeyPolicy"])}
    expected = {"AccountAdministersTheKeyButCannotUseIt", "FilerEncryptsAndDecryptsArchiveObjects",
                "ReadersDecryptArchiveObjects"}
    if variant.replica is not None:
        expected.add("ReplicationDecryptsArchiveObjects")
    assert sids == expected
