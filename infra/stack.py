"""The one stack: composes the constructs, wires them together and publishes what a client needs."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Stack
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from .components import AccessPolicies, Alarms, ArchiveBucket, Filer, FilerQueue, StagingBucket
from .components._checkov import skip_for_deploy_time_function
from .settings import Settings

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
        self.archive = ArchiveBucket(self, "Archive", settings=settings)
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
