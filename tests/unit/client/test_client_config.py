"""config.yaml as the user guide writes it: defaults, precedence, and every error message."""

from __future__ import annotations

import os

import pytest

from artifact_backup import (
    ArgumentInvalidError,
    ConfigInvalidError,
    ConfigKeyMissingError,
    ConfigNotFoundError,
    load_config,
)
from artifact_backup.config import native_path, settings_from_mapping
from artifact_backup.transfer import MB


def load(tmp_path, text: str, environ=None):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_config(path, environ=environ or {})


def test_defaults_of_the_guide(tmp_path):
    s = load(tmp_path, "aws:\n  s3_bucket_raw: rmi-360-raw\n")
    assert s.upload_artifacts_to_s3 is False
    assert s.artifact_types == ("config", "logs", "report")
    assert s.archive_bucket == "rmi-360-raw"
    assert s.staging_bucket == "rmi-360-raw-staging"
    assert s.type_folder("logs") == "logs"
    assert s.region is None
    assert s.endpoint_url is None
    assert s.profile is None
    assert s.transfer.pack_threshold == 8 * MB


def test_guide_config_is_read(settings):
    assert settings.upload_artifacts_to_s3 is True
    assert settings.project_slug == "RMI25320"
    assert settings.resolve_project_key(None) == "RMI25320"
    assert settings.resolve_project_key("OTHER") == "OTHER"


def test_every_key(tmp_path):
    s = load(
        tmp_path,
        """
orchestrator:
  artifact_types: [gis_data, logs, logs]
  artifact_paths: {logs: output/logs}
aws:
  s3_bucket_raw: archive-bucket
  s3_bucket_staging: my-staging
  region: eu-west-1
  endpoint_url: http://127.0.0.1:5000/
  profile: backup
  transfer: {max_concurrency: 3, pack_threshold_mb: 2, wait_timeout_seconds: 30}
""",
    )
    assert s.artifact_types == ("gis_data", "logs")
    assert s.type_folder("logs") == "output/logs"
    assert s.type_folder("report") == "report"
    assert (s.staging_bucket, s.region, s.endpoint_url, s.profile) == (
        "my-staging", "eu-west-1", "http://127.0.0.1:5000", "backup"
    )
    t = s.transfer
    assert (t.max_concurrency, t.pack_threshold, t.wait_timeout) == (3, 2 * MB, 30.0)


def test_environment_beats_file_and_command_line_beats_both(tmp_path):
    text = "aws:\n  s3_bucket_raw: b-raw\n  region: eu-west-1\n  endpoint_url: http://file:1\n  profile: p\n"
    env = {"AWS_REGION": "us-west-2", "AWS_ENDPOINT_URL": "http://env:2", "AWS_PROFILE": "envp"}
    s = load(tmp_path, text, env)
    assert (s.region, s.endpoint_url, s.profile) == ("us-west-2", "http://env:2", "envp")
    s = s.with_overrides(region="ap-south-1", endpoint_url="http://cli:3", profile="clip")
    assert (s.region, s.endpoint_url, s.profile) == ("ap-south-1", "http://cli:3", "clip")


def test_missing_archive_bucket_is_the_guides_message(tmp_path):
    s = load(tmp_path, "orchestrator:\n  upload_artifacts_to_s3: true\n")
    with pytest.raises(ConfigKeyMissingError) as err:
        s.require_archive_bucket()
    assert str(err.value) == "Missing aws.s3_bucket_raw in config"
    assert 's3_bucket_raw: "rmi-360-raw"' in err.value.hint
    assert err.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("orchestrator:\n  upload_artifacts_to_s3: 'yes'\n", "orchestrator.upload_artifacts_to_s3",
         "must be true or false"),
        ("orchestrator:\n  artifact_types: logs\n", "orchestrator.artifact_types", "must be a list"),
        ("orchestrator:\n  artifact_types: [logs, log]\n", "orchestrator.artifact_types",
         "unknown artifact type 'log'"),
        ("orchestrator:\n  artifact_paths: {reels: x}\n", "orchestrator.artifact_paths.reels",
         "unknown artifact type 'reels'"),
        ("orchestrator:\n  artifact_paths: {logs: ''}\n", "orchestrator.artifact_paths.logs",
         "must be a folder path"),
        ("orchestrator: [1]\n", "orchestrator", "must be a mapping"),
        ("aws:\n  s3_bucket_raw: s3://rmi-360-raw\n", "aws.s3_bucket_raw", "must be a bucket name"),
        ("aws:\n  s3_bucket_raw: Bad_Bucket\n", "aws.s3_bucket_raw", "not a valid S3 bucket name"),
        ("aws:\n  s3_bucket_raw: ok-bucket\n  s3_bucket_staging: x\n", "aws.s3_bucket_staging",
         "not a valid S3 bucket name"),
        ("aws:\n  endpoint_url: localhost:5000\n", "aws.endpoint_url", "must be an http:// or https:// URL"),
        ("aws:\n  region: [a]\n", "aws.region", "must be a text value"),
        ("aws:\n  transfer: {speed: 3}\n", "aws.transfer.speed", "is not a known setting"),
        ("aws:\n  transfer: {max_concurrency: 0}\n", "aws.transfer.max_concurrency",
         "must be a positive number"),
        ("aws:\n  transfer: {pack_threshold_mb: 100}\n", "aws.transfer", "pack_threshold must not exceed"),
        ("aws:\n  transfer: {pack_threshold_mb: 200, pack_max_mb: 256}\n", "aws.transfer",
         "pack_threshold_mb may be at most 128: the filer refuses packed files larger than 128 MiB"),
        ("project:\n  slug: a/b\n", "project.slug", "contains a slash"),
    ],
)
def test_wrong_values_name_the_key(tmp_path, text, key, fragment):
    with pytest.raises(ConfigInvalidError) as err:
        load(tmp_path, text)
    assert err.value.key == key
    assert key.split(".")[0] in str(err.value)
    assert fragment in str(err.value)
    assert err.value.exit_code == 2


def test_unknown_type_hint_lists_choices(tmp_path):
    with pytest.raises(ConfigInvalidError) as err:
        load(tmp_path, "orchestrator:\n  artifact_types: [reels]\n")
    assert err.value.hint == "choose from config, logs, report, gis_data"


def test_config_file_not_found(tmp_path):
    with pytest.raises(ConfigNotFoundError, match="config file .*nope.yaml not found"):
        load_config(tmp_path / "nope.yaml")


def test_config_windows_path_not_found_says_so():
    with pytest.raises(ConfigNotFoundError) as err:
        load_config("D:/Process360_Data/config.yaml")
    # Elsewhere a drive path cannot be opened at all, which the hint says; on Windows the file is
    # simply not there.
    assert ("Windows drive path" in err.value.hint) is (os.name != "nt")


def test_invalid_yaml_names_the_line(tmp_path):
    with pytest.raises(ConfigInvalidError, match="not valid YAML at line 3, column 3"):
        load(tmp_path, "aws:\n  - a\n  b: c\n")


def test_config_must_be_a_mapping(tmp_path):
    with pytest.raises(ConfigInvalidError, match="must hold a mapping of sections"):
        load(tmp_path, "- a\n- b\n")


def test_empty_config_gives_defaults(tmp_path):
    assert load(tmp_path, "").artifact_types == ("config", "logs", "report")


def test_project_key_required_without_slug():
    s = settings_from_mapping({}, environ={})
    with pytest.raises(ArgumentInvalidError, match="no project key: pass --project-key"):
        s.resolve_project_key(None)
    with pytest.raises(ArgumentInvalidError, match="--project-key: project key '../x'"):
        s.resolve_project_key("../x")


def test_bad_endpoint_on_command_line():
    with pytest.raises(ConfigInvalidError, match="--endpoint-url must be an http"):
        settings_from_mapping({}, environ={}).with_overrides(endpoint_url="ftp://x")


def test_windows_backslashes_become_slashes(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert native_path(str(tmp_path) + "\\a\\b") == tmp_path / "a" / "b"
