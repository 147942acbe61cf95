"""From the deployed stack's outputs to the client's config.yaml ``aws:`` block."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws

from infra.outputs_to_config import OutputsError, config_block, main, outputs_from_file
from infra.stack import OUTPUT_ARCHIVE_BUCKET, OUTPUT_REGION, OUTPUT_STAGING_BUCKET

OUTPUTS = {
    OUTPUT_ARCHIVE_BUCKET: "rmi-360-raw",
    OUTPUT_STAGING_BUCKET: "artifactbackup-stagingbucket-1x2y3z",
    OUTPUT_REGION: "eu-west-1",
    "QueueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/q",
}


def test_the_block_is_the_yaml_the_client_reads() -> None:
    assert yaml.safe_load(config_block(OUTPUTS)) == {
        "aws": {
            "s3_bucket_raw": "rmi-360-raw",
            "s3_bucket_staging": "artifactbackup-stagingbucket-1x2y3z",
            "region": "eu-west-1",
        }
    }


def test_outputs_of_another_stack_are_refused() -> None:
    with pytest.raises(OutputsError, match="StagingBucketName"):
        config_block({OUTPUT_ARCHIVE_BUCKET: "a", OUTPUT_REGION: "r"})


def test_from_the_cdk_outputs_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cdk-outputs.json"
    path.write_text(json.dumps({"ArtifactBackup": OUTPUTS}))
    assert main(["--outputs-file", str(path)]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["aws"]["s3_bucket_raw"] == "rmi-360-raw"
    path.write_text(json.dumps({"A": OUTPUTS, "B": OUTPUTS}))
    with pytest.raises(OutputsError, match="choose one with --stack"):
        outputs_from_file(path, None)
    assert main(["--outputs-file", str(path), "--stack", "C"]) == 2
    assert "no stack 'C'" in capsys.readouterr().err


def test_from_cloudformation(capsys: pytest.CaptureFixture[str]) -> None:
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {k: {"Value": v} for k, v in OUTPUTS.items()},
    }
    with mock_aws():
        boto3.client("cloudformation", region_name="eu-west-1").create_stack(
            StackName="ArtifactBackup", TemplateBody=json.dumps(template)
        )
        assert main(["--region", "eu-west-1"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["aws"]["region"] == "eu-west-1"
