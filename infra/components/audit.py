"""The archive's audit trail: S3 server access logs in a log bucket, or CloudTrail data events.

Access logs record every request on the archive (who, what key, when, result) at no charge but the
storage; S3 delivers them best-effort within hours. A CloudTrail trail of the archive's data events
is complete and arrives within minutes, at a charge per event. Either way the records go to a log
bucket of their own with its own retention, which nobody but the delivering service writes to.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from ..settings import Settings
from ._checkov import skip_checks

#: Key prefix of the archive's records in the log bucket.
ARCHIVE_LOG_PREFIX = "archive/"
#: It stays SSE-S3 whatever ``archiveKmsKey`` says: S3 delivers server access logs to no other.
LOG_BUCKET_SKIPS = [
    ("CKV_AWS_18", "This is the log bucket: logging its own requests into itself would never end."),
]


class AuditLogBucket(Construct):
    """``bucket`` receives the audit records and deletes them after ``auditLogRetentionDays``."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)
        days = Duration.days(settings.audit_log_retention_days)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            versioned=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # The records of what happened to the archive outlive the stack, like the archive.
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-audit-records",
                    expiration=days,
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
        skip_checks(self.bucket, *LOG_BUCKET_SKIPS)
        NagSuppressions.add_resource_suppressions(
            self.bucket, [NagPackSuppression(id="AwsSolutions-S1", reason=LOG_BUCKET_SKIPS[0][1])]
        )


class ArchiveTrail(Construct):
    """A trail of the archive's object-level (data) events only: reads and writes, no management
    events (those the account's own trail covers), delivered to the log bucket."""

    def __init__(
        self, scope: Construct, construct_id: str, *, archive_bucket: s3.IBucket, log_bucket: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        self.trail = cloudtrail.Trail(
            self,
            "Trail",
            bucket=log_bucket,
            s3_key_prefix=ARCHIVE_LOG_PREFIX.rstrip("/"),
            include_global_service_events=False,
            is_multi_region_trail=False,
            management_events=cloudtrail.ReadWriteType.NONE,
            enable_file_validation=True,
            send_to_cloud_watch_logs=False,
        )
        self.trail.add_s3_event_selector([cloudtrail.S3EventSelector(bucket=archive_bucket)],
                                         include_management_events=False)
        skip_checks(
            self.trail,
            ("CKV_AWS_35", "The trail records only the archive's data events; its files sit in a "
                           "log bucket with SSE-S3, TLS-only and blocked public access."),
            ("CKV_AWS_67", "It watches the archive bucket, which lives in this region only."),
        )


def log_requests(source: s3.Bucket, log_bucket: s3.IBucket) -> None:
    """Deliver ``source``'s server access logs under ``archive/`` of the log bucket.

    S3's logging service is granted by the log bucket's policy, for ``source`` alone (the construct
    library would grant it with an ACL, which a bucket with ACLs disabled cannot carry).
    """
    cfn: s3.CfnBucket = source.node.default_child  # type: ignore[assignment]
    cfn.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
        destination_bucket_name=log_bucket.bucket_name, log_file_prefix=ARCHIVE_LOG_PREFIX
    )
    log_bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="S3ServerAccessLogsOfTheArchive",
            principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
            actions=["s3:PutObject"],
            resources=[log_bucket.arn_for_objects(ARCHIVE_LOG_PREFIX + "*")],
            conditions={
                "ArnLike": {"aws:SourceArn": source.bucket_arn},
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            },
        )
    )
