"""The staging and archive buckets, each construct on its own in a bare stack: the properties it promises,
independent of the rest."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from infra_support import DEFAULTS, bare_stack, resources, statements, tls_only_policy

from infra.components import ArchiveBucket, StagingBucket
from infra.contract import (
    INCOMING_PREFIX,
    INDEX_PREFIX,
    PROGRESS_PREFIX,
    QUARANTINE_PREFIX,
    RECEIPTS_PREFIX,
    RETENTION_PINNED,
    RETENTION_STANDARD,
    TAG_MANAGED,
    TAG_MANAGED_VALUE,
    TAG_RETENTION,
)
from infra.lifecycle import ABORT_UPLOADS_RULE_ID, NONCURRENT_RULE_ID, archive_rules
from infra.settings import Settings

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


def test_the_reuse_index_does_not_expire_with_the_receipts(staging: Template) -> None:
    rules = next(iter(resources(staging.to_json(), "AWS::S3::Bucket").values()))["Properties"][
        "LifecycleConfiguration"
    ]["Rules"]
    assert all(not (r.get("Prefix") or "-").startswith(INDEX_PREFIX) for r in rules)
    assert all("ExpirationInDays" not in r for r in rules if not r.get("Prefix"))
