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
    ],
)
def test_bad_values_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_mapping(values)
