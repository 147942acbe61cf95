"""Context parsing: the defaults cdk.json shows are the code's, and bad values fail the synth."""

from __future__ import annotations

import pytest
from infra_support import cdk_json_context

from infra.settings import Settings, SettingsError


def test_cdk_json_lists_every_setting_with_the_code_default() -> None:
    assert cdk_json_context() == Settings.defaults()


def test_the_documented_defaults() -> None:
    defaults = Settings()
    assert defaults.glacier_transition_days == 90
    assert defaults.glacier_storage_class == "GLACIER"
    assert not defaults.imports_archive


def test_recovery_defaults_an_audit_trail_and_nothing_that_costs_or_locks() -> None:
    defaults = Settings()
    assert defaults.audit_trail == "accessLogs"
    assert (defaults.object_lock, defaults.replica_region, defaults.archive_kms_key) == (False, "", "")


def test_recovery_values_are_accepted() -> None:
    settings = Settings.from_mapping({
        "object_lock_mode": "COMPLIANCE", "object_lock_retention_days": "3650",
        "replica_region": "eu-central-1", "replica_bucket_name": "rmi-360-raw-replica",
        "archive_kms_key": "arn:aws:kms:eu-west-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef",
        "audit_trail": "cloudtrail", "audit_log_retention_days": "2555",
    })
    assert settings.object_lock
    assert settings.object_lock_retention_days == 3650
    assert not settings.creates_kms_key
    assert Settings.from_mapping({"archive_kms_key": "create"}).creates_kms_key


def test_values_from_the_command_line_arrive_as_strings_and_are_parsed() -> None:
    settings = Settings.from_mapping({"glacier_transition_days": "120", "alarm_email": " a@b.org "})
    assert settings.glacier_transition_days == 120
    assert settings.alarm_email == "a@b.org"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"glacier_transition_days": "ninety"}, "whole number"),
        ({"glacier_transition_days": 0}, "at least 1"),
        ({"glacier_storage_class": "STANDARD_IA", "glacier_transition_days": 10}, "at least 30"),
        ({"glacier_storage_class": "TAPE"}, "choose one of"),
        ({"archive_expiration_days": 30}, "more than glacierTransitionDays"),
        ({"archive_bucket_name": "a-b-c", "import_archive_bucket_name": "rmi-360-raw"}, "not both"),
        ({"import_archive_bucket_name": "Bad_Name"}, "not a valid S3 bucket name"),
        ({"filer_timeout_minutes": 16}, "between 1 and 15"),
        ({"filer_max_concurrency": 1}, "between 2 and 1000"),
        ({"log_retention_days": 31}, "must be one of"),
        ({"alarm_email": "nobody"}, "not an e-mail address"),
        ({"staging_expiration_days": 0}, "at least 1"),
        ({"no_such_setting": 1}, "unknown setting"),
        ({"object_lock_mode": "governance"}, "choose GOVERNANCE, COMPLIANCE or empty"),
        ({"object_lock_mode": "GOVERNANCE", "import_archive_bucket_name": "rmi-360-raw"},
         "can never be turned off"),
        ({"object_lock_retention_days": 0}, "between 1 and 36500"),
        ({"replica_region": "Frankfurt"}, "not an AWS region name"),
        ({"replica_bucket_name": "rmi-360-raw-replica"}, "needs replicaRegion"),
        ({"replica_region": "eu-central-1", "replica_bucket_name": "Bad_Name"}, "not a valid S3 bucket"),
        ({"replica_region": "eu-central-1", "archive_bucket_name": "same-name",
          "replica_bucket_name": "same-name"}, "must differ"),
        ({"archive_kms_key": "alias/archive"}, "an alias is not accepted"),
        ({"archive_kms_key": "create", "import_archive_bucket_name": "rmi-360-raw"},
         "bucket the stack creates"),
        ({"replica_region": "eu-central-1", "import_archive_bucket_name": "rmi-360-raw"},
         "bucket the stack creates"),
        ({"audit_trail": "none"}, "choose accessLogs or cloudtrail"),
        ({"audit_log_retention_days": 0}, "at least 1"),
    ],
)
def test_bad_values_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_mapping(values)


def test_the_deployment_region_refuses_a_replica_there_and_a_key_elsewhere() -> None:
    from infra.stack import check_regions

    check_regions(Settings.from_mapping({"replica_region": "eu-central-1"}), None)
    check_regions(Settings.from_mapping({"replica_region": "eu-central-1"}), "eu-west-1")
    with pytest.raises(SettingsError, match="region the stack deploys to"):
        check_regions(Settings.from_mapping({"replica_region": "eu-west-1"}), "eu-west-1")
    key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    check_regions(Settings.from_mapping({"archive_kms_key": key}), "eu-west-1")
    with pytest.raises(SettingsError, match="key of the bucket's own region"):
        check_regions(Settings.from_mapping({"archive_kms_key": key}), "us-east-1")
