"""Name a cdk-nag wildcard finding exactly, so a suppression covers that one resource and no other."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression


def object_wildcard(bucket: s3.IBucket, pattern: str) -> str:
    """The IAM5 finding for ``arn_for_objects(pattern)`` of an owned or an imported bucket."""
    resource = bucket.node.default_child
    if resource is not None:
        logical_id = Stack.of(bucket).get_logical_id(resource)  # type: ignore[arg-type]
        return f"Resource::<{logical_id}.Arn>/{pattern}"
    return f"Resource::arn:<AWS::Partition>:s3:::{bucket.bucket_name}/{pattern}"


def wildcard_suppression(reason: str, findings: list[str]) -> NagPackSuppression:
    return NagPackSuppression(id="AwsSolutions-IAM5", reason=reason, applies_to=findings)
