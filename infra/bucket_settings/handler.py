"""Custom resource that brings an imported archive bucket up to the stack's rules without replacing
what is already there.

CloudFormation cannot read an existing bucket's lifecycle configuration or bucket policy, and a plain
``PutBucketLifecycleConfiguration`` replaces every rule, so the guide's bucket (which already holds
``reels/`` and may have rules of its own) would silently lose them. This handler merges instead:

* lifecycle: rules whose ID starts with the stack's prefix are replaced, every other rule is kept;
* bucket policy: the stack's statement (TLS only) is replaced by Sid, every other statement is kept;
* versioning is enabled, public access is blocked, and default encryption is set to SSE-S3 only when
  the bucket has none (an existing KMS setting is kept).

On delete, only the stack's rules and statement are removed. Versioning and the public access block
stay: suspending versioning or opening a bucket on stack deletion would be the surprising outcome.

It runs on the Lambda Python runtime with nothing but boto3, and answers CloudFormation itself.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

import boto3
from botocore.exceptions import ClientError

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

#: S3 allows at most this many lifecycle rules per bucket.
MAX_RULES = 1000


def merge_rules(
    existing: list[dict[str, Any]], ours: list[dict[str, Any]], prefix: str
) -> list[dict[str, Any]]:
    """Keep every rule that is not the stack's, then add the stack's current ones."""
    kept = [rule for rule in existing if not str(rule.get("ID", "")).startswith(prefix)]
    clash = {rule.get("ID") for rule in kept} & {rule["ID"] for rule in ours}
    if clash:
        raise ValueError(f"lifecycle rule IDs already in use: {sorted(clash)}")
    merged = kept + ours
    if len(merged) > MAX_RULES:
        raise ValueError(f"the bucket would have {len(merged)} lifecycle rules; S3 allows {MAX_RULES}")
    return merged


def merge_policy(existing: dict[str, Any] | None, statement: dict[str, Any] | None) -> dict[str, Any] | None:
    """Replace the stack's statement (by Sid) in a bucket policy, keeping all others."""
    policy = dict(existing or {"Version": "2012-10-17", "Statement": []})
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    sid = statement["Sid"] if statement else None
    kept = [s for s in statements if s.get("Sid") != sid] if sid else statements
    policy["Statement"] = kept + ([statement] if statement else [])
    return policy if policy["Statement"] else None


def tls_only_statement(bucket: str, sid: str, partition: str = "aws") -> dict[str, Any]:
    arn = f"arn:{partition}:s3:::{bucket}"
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _get_lifecycle(s3: Any, bucket: str) -> tuple[list[dict[str, Any]], str | None]:
    try:
        response = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchLifecycleConfiguration":
            return [], None
        raise
    return response.get("Rules", []), response.get("TransitionDefaultMinimumObjectSize")


def _put_lifecycle(s3: Any, bucket: str, rules: list[dict[str, Any]], minimum_size: str | None) -> None:
    if not rules:
        s3.delete_bucket_lifecycle(Bucket=bucket)
        return
    extra = {"TransitionDefaultMinimumObjectSize": minimum_size} if minimum_size else {}
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules}, **extra)


def _get_policy(s3: Any, bucket: str) -> dict[str, Any] | None:
    try:
        return json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchBucketPolicy":
            return None
        raise


def _put_policy(s3: Any, bucket: str, policy: dict[str, Any] | None) -> None:
    if policy is None:
        s3.delete_bucket_policy(Bucket=bucket)
    else:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def apply(s3: Any, props: dict[str, Any]) -> None:
    bucket = props["BucketName"]
    prefix = props["RuleIdPrefix"]
    rules, minimum_size = _get_lifecycle(s3, bucket)
    _put_lifecycle(s3, bucket, merge_rules(rules, json.loads(props["LifecycleRules"]), prefix), minimum_size)
    statement = tls_only_statement(bucket, props["PolicySid"], props.get("Partition", "aws"))
    _put_policy(s3, bucket, merge_policy(_get_policy(s3, bucket), statement))
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    try:
        s3.get_bucket_encryption(Bucket=bucket)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )


def remove(s3: Any, props: dict[str, Any]) -> None:
    bucket = props["BucketName"]
    try:
        rules, minimum_size = _get_lifecycle(s3, bucket)
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchBucket":
            return  # deleted by hand: nothing of ours is left to take back
        raise
    kept = merge_rules(rules, [], props["RuleIdPrefix"])
    if kept != rules:
        _put_lifecycle(s3, bucket, kept, minimum_size)
    policy = _get_policy(s3, bucket)
    if policy is not None:
        statements = policy.get("Statement", [])
        if any(s.get("Sid") == props["PolicySid"] for s in statements):
            policy["Statement"] = [s for s in statements if s.get("Sid") != props["PolicySid"]]
            _put_policy(s3, bucket, policy if policy["Statement"] else None)


def handle(event: dict[str, Any], s3: Any) -> None:
    request = event["RequestType"]
    props = event["ResourceProperties"]
    if request in ("Create", "Update"):
        old = event.get("OldResourceProperties") or {}
        if request == "Update" and old.get("BucketName") and old["BucketName"] != props["BucketName"]:
            remove(s3, old)
        apply(s3, props)
    elif request == "Delete":
        remove(s3, props)


def send(event: dict[str, Any], status: str, reason: str, physical_id: str) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:3000],
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": {},
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - CloudFormation's pre-signed https URL
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        response.read()


def handler(event: dict[str, Any], context: Any, s3: Any = None) -> None:
    physical_id = f"archive-bucket-settings-{event['ResourceProperties']['BucketName']}"
    LOG.info("%s %s", event["RequestType"], physical_id)
    try:
        handle(event, s3 or boto3.client("s3"))
    except Exception as error:  # noqa: BLE001 - every failure must reach CloudFormation
        LOG.exception("bucket settings failed")
        send(event, "FAILED", f"{type(error).__name__}: {error}", physical_id)
        return
    send(event, "SUCCESS", "ok", physical_id)
