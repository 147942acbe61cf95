"""The two buckets: a short-lived private staging area, and the archive the runs are filed into."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from ..contract import INCOMING_PREFIX, PROGRESS_PREFIX, QUARANTINE_PREFIX, RECEIPTS_PREFIX
from ..lifecycle import RULE_ID_PREFIX, archive_rules, to_cdk_rules
from ..settings import Settings
from ._checkov import LOGS_AT_REST, skip_checks, skip_for_deploy_time_function
from ._logs import retention
from .audit import log_requests
from .immutability import default_retention

ACCESS_LOGS_REASON = (
    "Server access logs would need a third bucket and are delivered best-effort; the filer logs every "
    "run it files or refuses with the run's identity, and CloudTrail data events can be enabled on "
    "the account if an object-level audit trail is required."
)
#: Without access logs the archive's audit trail is a CloudTrail trail of its data events.
TRAIL_REASON = (
    "auditTrail=cloudtrail: a CloudTrail trail records every object-level request on the archive "
    "into the audit log bucket, so server access logs would record the same requests twice."
)
#: Sid of the statement the stack adds to an imported bucket's policy, so it can find it again.
TLS_ONLY_SID = "ArtifactBackupDenyInsecureTransport"
BUCKET_SETTINGS_CODE = Path(__file__).resolve().parent.parent / "bucket_settings"


class StagingBucket(Construct):
    """Where the client uploads a run and the filer leaves its receipt; nothing stays long."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)
        expire = Duration.days(settings.staging_expiration_days)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=settings.staging_bucket_name or None,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # An emptied stack should not fail on a bucket holding a half-uploaded run; it is kept.
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-incoming", prefix=INCOMING_PREFIX, expiration=expire),
                s3.LifecycleRule(id="expire-receipts", prefix=RECEIPTS_PREFIX, expiration=expire),
                # The filer deletes its notes with the run; a run given up on leaves them here.
                s3.LifecycleRule(id="expire-progress", prefix=PROGRESS_PREFIX, expiration=expire),
                s3.LifecycleRule(
                    id="expire-quarantine",
                    prefix=QUARANTINE_PREFIX,
                    expiration=Duration.days(settings.quarantine_expiration_days),
                ),
                s3.LifecycleRule(
                    id="abort-incomplete-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(
                        settings.staging_abort_incomplete_upload_days
                    ),
                ),
            ],
        )
        NagSuppressions.add_resource_suppressions(
            self.bucket, [NagPackSuppression(id="AwsSolutions-S1", reason=ACCESS_LOGS_REASON)]
        )
        skip_checks(
            self.bucket,
            ("CKV_AWS_18", ACCESS_LOGS_REASON),
            ("CKV_AWS_21", "Staging holds a run only until it is filed, each object written once under "
             "its run's own prefix and deleted once filed and verified; versions would only keep deleted "
             "pieces billable. The archive, where runs are kept, is versioned."),
        )


class ArchiveBucket(Construct):
    """The archive: created here, or an existing bucket brought up to the same rules.

    ``bucket`` is what the other constructs grant on either way; ``settings_resource`` is the custom
    resource that merges the stack's lifecycle rules into an imported bucket (None when created).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        encryption_key: kms.IKey | None = None,
        access_logs: s3.IBucket | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.rules = archive_rules(settings)
        self.imported = settings.imports_archive
        self.settings_resource: CustomResource | None = None
        self.settings_function: lambda_.Function | None = None
        if self.imported:
            self.bucket: s3.IBucket = s3.Bucket.from_bucket_name(
                self, "Bucket", settings.import_archive_bucket_name
            )
            self._manage_imported(settings)
            return
        bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=settings.archive_bucket_name or None,
            versioned=True,
            encryption=s3.BucketEncryption.KMS if encryption_key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=encryption_key,
            # One KMS request per bucket key rather than per object: small logs would cost more in
            # KMS requests than in storage.
            bucket_key_enabled=True if encryption_key else None,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # The archive outlives the stack: deleting the stack must never delete a run.
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=to_cdk_rules(self.rules),
            object_lock_enabled=True if settings.object_lock else None,
            object_lock_default_retention=default_retention(settings),
        )
        if access_logs is not None:
            log_requests(bucket, access_logs)
        else:
            NagSuppressions.add_resource_suppressions(
                bucket, [NagPackSuppression(id="AwsSolutions-S1", reason=TRAIL_REASON)]
            )
            skip_checks(bucket, ("CKV_AWS_18", TRAIL_REASON))
        self.bucket = bucket

    def _manage_imported(self, settings: Settings) -> None:
        log_group = logs.LogGroup(
            self,
            "SettingsLogs",
            retention=retention(settings.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            "SettingsRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Merges the archive's lifecycle rules and TLS-only statement into an existing bucket",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "s3:GetLifecycleConfiguration",
                    "s3:PutLifecycleConfiguration",
                    "s3:GetBucketPolicy",
                    "s3:PutBucketPolicy",
                    "s3:DeleteBucketPolicy",
                    "s3:PutBucketVersioning",
                    "s3:PutBucketPublicAccessBlock",
                    "s3:GetEncryptionConfiguration",
                    "s3:PutEncryptionConfiguration",
                ],
                resources=[self.bucket.bucket_arn],
            )
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            "SettingsFunction",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="handler.handler",
            code=lambda_.Code.from_asset(
                str(BUCKET_SETTINGS_CODE), exclude=["__pycache__", "*.pyc", "__init__.py"]
            ),
            timeout=Duration.minutes(2),
            role=role,
            log_group=log_group,
            description="Custom resource: archive bucket settings that keep the bucket's own rules",
        )
        self.settings_function = function
        skip_for_deploy_time_function(function)
        skip_checks(log_group, ("CKV_AWS_158", LOGS_AT_REST))
        self.settings_resource = CustomResource(
            self,
            "Settings",
            service_token=function.function_arn,
            resource_type="Custom::ArchiveBucketSettings",
            properties={
                "BucketName": self.bucket.bucket_name,
                "RuleIdPrefix": RULE_ID_PREFIX,
                "LifecycleRules": json.dumps(self.rules, sort_keys=True),
                "PolicySid": TLS_ONLY_SID,
                "Partition": Stack.of(self).partition,
            },
        )
        NagSuppressions.add_resource_suppressions(
            role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Writing its own log streams needs the log group's ':*' stream resource.",
                    applies_to=[f"Resource::<{self._logical_id(log_group)}.Arn>:*"],
                )
            ],
            apply_to_children=True,
        )

    @staticmethod
    def _logical_id(construct: Construct) -> str:
        child = construct.node.default_child
        return Stack.of(construct).get_logical_id(child)  # type: ignore[arg-type]
