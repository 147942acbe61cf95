"""The imported archive's settings are merged: the bucket's own rules and statements survive."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.bucket_settings import handler as settings_handler
from infra.components.buckets import TLS_ONLY_SID
from infra.lifecycle import RULE_ID_PREFIX, archive_rules
from infra.settings import Settings

BUCKET = "rmi-360-raw"
REELS_RULE = {
    "ID": "reels-to-ia",
    "Status": "Enabled",
    "Filter": {"Prefix": "RMI25320/reels/"},
    "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}],
}
OWNER_STATEMENT = {
    "Sid": "OwnerReadsReels",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
    "Action": "s3:GetObject",
    "Resource": f"arn:aws:s3:::{BUCKET}/*",
}


def props(settings: Settings | None = None) -> dict[str, Any]:
    return {
        "BucketName": BUCKET,
        "RuleIdPrefix": RULE_ID_PREFIX,
        "LifecycleRules": json.dumps(archive_rules(settings or Settings())),
        "PolicySid": TLS_ONLY_SID,
        "Partition": "aws",
    }


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="RMI25320/reels/reel_0001/frame.jpg", Body=b"x")
        client.put_bucket_lifecycle_configuration(
            Bucket=BUCKET, LifecycleConfiguration={"Rules": [REELS_RULE]}
        )
        client.put_bucket_policy(
            Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [OWNER_STATEMENT]})
        )
        yield client


def rule_ids(s3: Any) -> list[str]:
    return [r["ID"] for r in s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]]


def sids(s3: Any) -> list[str]:
    return [s["Sid"] for s in json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]]


def test_create_keeps_the_buckets_own_rule_and_statement(s3: Any) -> None:
    settings_handler.handle({"RequestType": "Create", "ResourceProperties": props()}, s3)
    assert rule_ids(s3) == ["reels-to-ia"] + [r["ID"] for r in archive_rules(Settings())]
    assert sids(s3) == ["OwnerReadsReels", TLS_ONLY_SID]
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values())


def test_update_replaces_only_the_stacks_rules(s3: Any) -> None:
    settings_handler.handle({"RequestType": "Create", "ResourceProperties": props()}, s3)
    changed = props(Settings.from_mapping({
        "glacier_transition_days": 120, "archive_abort_incomplete_upload_days": 0,
        "noncurrent_version_expiration_days": 60,
    }))
    settings_handler.handle(
        {"RequestType": "Update", "ResourceProperties": changed, "OldResourceProperties": props()}, s3
    )
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]}
    assert set(rules) == {"reels-to-ia", "artifact-backup-transition", "artifact-backup-expire-noncurrent"}
    assert rules["artifact-backup-transition"]["Transitions"][0]["Days"] == 120
    assert sids(s3).count(TLS_ONLY_SID) == 1


def test_turning_expiry_of_replaced_versions_off_removes_its_rule(s3: Any) -> None:
    expiring = props(Settings.from_mapping({"noncurrent_version_expiration_days": 60}))
    settings_handler.handle({"RequestType": "Create", "ResourceProperties": expiring}, s3)
    assert "artifact-backup-expire-noncurrent" in rule_ids(s3)
    settings_handler.handle(
        {"RequestType": "Update", "ResourceProperties": props(), "OldResourceProperties": expiring}, s3
    )
    assert "artifact-backup-expire-noncurrent" not in rule_ids(s3)
    assert "reels-to-ia" in rule_ids(s3)


def test_delete_gives_back_exactly_what_was_there(s3: Any) -> None:
    settings_handler.handle({"RequestType": "Create", "ResourceProperties": props()}, s3)
    settings_handler.handle({"RequestType": "Delete", "ResourceProperties": props()}, s3)
    assert s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"] == [REELS_RULE]
    assert json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"] == [OWNER_STATEMENT]


def test_a_bucket_without_rules_or_policy_is_left_without_them_on_delete(s3: Any) -> None:
    s3.delete_bucket_lifecycle(Bucket=BUCKET)
    s3.delete_bucket_policy(Bucket=BUCKET)
    settings_handler.handle({"RequestType": "Create", "ResourceProperties": props()}, s3)
    assert rule_ids(s3)[0].startswith(RULE_ID_PREFIX)
    settings_handler.handle({"RequestType": "Delete", "ResourceProperties": props()}, s3)
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchLifecycleConfiguration"):
        s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=BUCKET)


def test_a_foreign_rule_with_a_clashing_id_is_refused_not_overwritten() -> None:
    ours = archive_rules(Settings())
    theirs = [{"ID": ours[0]["ID"].upper(), "Status": "Enabled", "Filter": {"Prefix": ""}}]
    assert settings_handler.merge_rules(theirs, ours, RULE_ID_PREFIX) == theirs + ours
    with pytest.raises(ValueError, match="already in use"):
        settings_handler.merge_rules([{"ID": "mine"}], [{"ID": "mine"}], RULE_ID_PREFIX)


class _Capture(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []

    def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers["Content-Length"])
        _Capture.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def response_url() -> Iterator[str]:
    _Capture.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/response"
    server.shutdown()
    thread.join()


def cfn_event(request_type: str, url: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": url,
        "StackId": "stack",
        "RequestId": "req",
        "LogicalResourceId": "ArchiveSettings",
        "ResourceProperties": properties,
    }


def test_the_handler_answers_cloudformation_success_and_failure(s3: Any, response_url: str) -> None:
    settings_handler.handler(cfn_event("Create", response_url, props()), None, s3=s3)
    bad = {**props(), "LifecycleRules": json.dumps([{**REELS_RULE, "ID": "reels-to-ia"}])}
    settings_handler.handler(cfn_event("Update", response_url, bad), None, s3=s3)
    assert [b["Status"] for b in _Capture.bodies] == ["SUCCESS", "FAILED"]
    assert "already in use" in _Capture.bodies[1]["Reason"]
    assert _Capture.bodies[0]["PhysicalResourceId"] == _Capture.bodies[1]["PhysicalResourceId"]
