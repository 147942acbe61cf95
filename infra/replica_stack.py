"""The replica's stack, deployed to ``replicaRegion``: the replica bucket, its key, its audit trail
and the policy that reads it. It depends on nothing in the main stack's region."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from .components.audit import ArchiveTrail, AuditLogBucket
from .components.replica import ReplicaBucket
from .settings import Settings

OUTPUT_REPLICA_BUCKET = "ReplicaBucketName"
OUTPUT_REPLICA_REGION = "ReplicaRegion"
OUTPUT_REPLICA_READER_POLICY = "ReplicaReaderPolicyArn"
OUTPUT_REPLICA_LOG_BUCKET = "ReplicaAuditLogBucketName"


def replica_stack_name(settings: Settings) -> str:
    return f"{settings.stack_name}-Replica"


class ReplicaStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: Any) -> None:
        super().__init__(
            scope,
            construct_id,
            description="artifact-backup: the archive's replica in a second region",
            **kwargs,
        )
        self.audit = AuditLogBucket(self, "AuditLogs", settings=settings)
        access_logs = self.audit.bucket if settings.audit_trail == "accessLogs" else None
        self.replica = ReplicaBucket(self, "Replica", settings=settings, access_logs=access_logs)
        self.trail = None
        if access_logs is None:
            self.trail = ArchiveTrail(
                self, "Trail", archive_bucket=self.replica.bucket, log_bucket=self.audit.bucket
            )
        values = {
            OUTPUT_REPLICA_BUCKET: (self.replica.bucket.bucket_name, "read with --bucket (and --region)"),
            OUTPUT_REPLICA_REGION: (settings.replica_region, "the replica's region"),
            OUTPUT_REPLICA_READER_POLICY: (
                self.replica.reader.managed_policy_arn,
                "attach to people who read runs from the replica",
            ),
            OUTPUT_REPLICA_LOG_BUCKET: (self.audit.bucket.bucket_name, "the replica's audit records"),
        }
        for key, (value, description) in values.items():
            CfnOutput(self, key, value=value, description=description)
