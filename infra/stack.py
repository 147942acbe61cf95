"""The one stack: composes the constructs, wires them together and publishes what a client needs."""

from __future__ import annotations

import os
from typing import Any

from aws_cdk import App, Aws, CfnOutput, Environment, Stack
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from .components import AccessPolicies, Alarms, ArchiveBucket, Filer, FilerQueue, StagingBucket
from .components._checkov import skip_for_deploy_time_function
from .components.audit import ArchiveTrail, AuditLogBucket
from .components.encryption import ArchiveKey
from .components.immutability import grant_legal_holds
from .components.replica import ArchiveReplication
from .replica_stack import ReplicaStack, replica_stack_name
from .settings import Settings, SettingsError

#: Output keys; ``infra.outputs_to_config`` reads them, so they are part of the stack's interface.
OUTPUT_STAGING_BUCKET = "StagingBucketName"
OUTPUT_ARCHIVE_BUCKET = "ArchiveBucketName"
OUTPUT_REGION = "Region"
OUTPUT_QUEUE_URL = "QueueUrl"
OUTPUT_DLQ_URL = "DeadLetterQueueUrl"
OUTPUT_FILER_FUNCTION = "FilerFunctionName"
OUTPUT_UPLOADER_POLICY = "UploaderPolicyArn"
OUTPUT_READER_POLICY = "ReaderPolicyArn"
OUTPUT_ALARM_TOPIC = "AlarmTopicArn"
OUTPUT_AUDIT_LOG_BUCKET = "AuditLogBucketName"
OUTPUT_ARCHIVE_KEY = "ArchiveKeyArn"
OUTPUT_REPLICA_BUCKET = "ReplicaBucketName"
OUTPUT_REPLICA_REGION = "ReplicaRegion"


def check_regions(settings: Settings, region: str | None) -> None:
    """What only the deployment's region can tell (``cdk`` sets it from the credentials' profile;
    a synth without one skips this): the replica elsewhere, the key beside the archive."""
    if not region:
        return
    if settings.replica_region == region:
        raise SettingsError(
            f"replicaRegion={region} is the region the stack deploys to: a replica guards against "
            "losing that region only from another one"
        )
    key = settings.archive_kms_key
    if key.startswith("arn:") and key.split(":")[3] != region:
        raise SettingsError(
            f"archiveKmsKey is a key in {key.split(':')[3]}, the stack deploys to {region}: S3 "
            "encrypts only with a key of the bucket's own region"
        )


def build(app: App, settings: Settings) -> tuple[ArtifactBackupStack, ReplicaStack | None]:
    """The main stack, and with ``replicaRegion`` the replica's stack, deployed first."""
    check_regions(settings, os.environ.get("CDK_DEFAULT_REGION"))
    replica = None
    if settings.replica_region:
        replica = ReplicaStack(
            app,
            replica_stack_name(settings),
            settings=settings,
            env=Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=settings.replica_region),
        )
    main = ArtifactBackupStack(app, settings.stack_name, settings=settings)
    if replica is not None:
        main.add_stack_dependency(replica, "replication needs its destination bucket and key")
    return main, replica


class ArtifactBackupStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: Any) -> None:
        super().__init__(
            scope,
            construct_id,
            description="artifact-backup: staging bucket, filer and archive for processing-run artifacts",
            **kwargs,
        )
        self.settings = settings
        self.staging = StagingBucket(self, "Staging", settings=settings)
        self.key = ArchiveKey(self, "ArchiveKey", settings=settings)
        self.audit = AuditLogBucket(self, "AuditLogs", settings=settings)
        access_logs = self.audit.bucket if settings.audit_trail == "accessLogs" else None
        self.archive = ArchiveBucket(
            self, "Archive", settings=settings, encryption_key=self.key.key, access_logs=access_logs
        )
        self.trail = None
        if access_logs is None or self.archive.imported:
            # An imported bucket's logging is its owner's: the trail records its requests instead.
            self.trail = ArchiveTrail(
                self, "Trail", archive_bucket=self.archive.bucket, log_bucket=self.audit.bucket
            )
        self.queue = FilerQueue(self, "Queue", settings=settings, staging_bucket=self.staging.bucket)
        self.filer = Filer(
            self,
            "Filer",
            settings=settings,
            staging_bucket=self.staging.bucket,
            archive_bucket=self.archive.bucket,
            queue=self.queue.queue,
        )
        self.access = AccessPolicies(
            self, "Access", staging_bucket=self.staging.bucket, archive_bucket=self.archive.bucket
        )
        self._recovery(settings)
        self.alarms = Alarms(
            self,
            "Alarms",
            settings=settings,
            queue=self.queue.queue,
            dead_letter_queue=self.queue.dead_letter_queue,
            function=self.filer.function,
        )
        self._outputs()
        self._suppress_framework_findings()

    def _recovery(self, settings: Settings) -> None:
        """What the key, Object Lock and replication add to the filer's and readers' rights."""
        archive_arn = self.archive.bucket.bucket_arn
        self.key.allow_filer(self.filer.role, archive_arn)
        self.key.allow_readers(self.access.reader, archive_arn)
        grant_legal_holds(settings, self.access.reader, self.archive.bucket)
        self.replication = None
        if settings.replica_region and isinstance(self.archive.bucket, s3.Bucket):
            self.replication = ArchiveReplication(
                self, "Replication", settings=settings, archive=self.archive.bucket, archive_key=self.key.key
            )
            self.key.allow_replication(self.replication.role, archive_arn)

    def _outputs(self) -> None:
        values = {
            OUTPUT_STAGING_BUCKET: (self.staging.bucket.bucket_name, "client config: aws.s3_bucket_staging"),
            OUTPUT_ARCHIVE_BUCKET: (self.archive.bucket.bucket_name, "client config: aws.s3_bucket_raw"),
            OUTPUT_REGION: (Aws.REGION, "client config: aws.region"),
            OUTPUT_QUEUE_URL: (self.queue.queue.queue_url, "manifest events for the filer"),
            OUTPUT_DLQ_URL: (self.queue.dead_letter_queue.queue_url, "refused or failing runs"),
            OUTPUT_FILER_FUNCTION: (
                self.filer.function.function_name,
                "the filer's logs are under this name",
            ),
            OUTPUT_UPLOADER_POLICY: (
                self.access.uploader.managed_policy_arn,
                "attach to the uploading identity",
            ),
            OUTPUT_READER_POLICY: (
                self.access.reader.managed_policy_arn,
                "attach to people who read the archive",
            ),
        }
        if self.alarms.topic is not None:
            values[OUTPUT_ALARM_TOPIC] = (self.alarms.topic.topic_arn, "alarm notifications")
        values[OUTPUT_AUDIT_LOG_BUCKET] = (self.audit.bucket.bucket_name, "the archive's audit records")
        if self.key.key is not None:
            values[OUTPUT_ARCHIVE_KEY] = (self.key.key.key_arn, "encrypts the archive")
        if self.replication is not None:
            values[OUTPUT_REPLICA_BUCKET] = (self.replication.replica_bucket_name, "the archive's replica")
            values[OUTPUT_REPLICA_REGION] = (self.settings.replica_region, "read it with --region")
        for key, (value, description) in values.items():
            CfnOutput(self, key, value=value, description=description)

    def _suppress_framework_findings(self) -> None:
        """The S3 notification handler is the construct library's own Lambda, not ours to shape."""
        handler = self.node.try_find_child("BucketNotificationsHandler050a0587b7544547bf325f094a3db834")
        if handler is None:
            return
        skip_for_deploy_time_function(handler.node.find_child("Resource"))
        NagSuppressions.add_resource_suppressions(
            handler,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM4",
                    reason=(
                        "The construct library's bucket-notification handler uses the Lambda basic "
                        "execution managed policy for its logs; it runs only during deployment."
                    ),
                    applies_to=[
                        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
                    ],
                ),
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason=(
                        "s3:PutBucketNotification on '*' is how the construct library's handler is "
                        "defined; it configures only the staging bucket's notification."
                    ),
                    applies_to=["Resource::*"],
                ),
            ],
            apply_to_children=True,
        )
