"""The queue between the staging bucket's manifest events and the filer, with its dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ..contract import INCOMING_PREFIX, MANIFEST_NAME
from ..settings import Settings
from ._checkov import SQS_MANAGED, skip_checks

#: AWS advises a visibility timeout of at least six times the function's timeout for an SQS source,
#: so that retries of a throttled or slow batch never hand the same run to two filers at once.
VISIBILITY_TIMEOUT_FACTOR = 6
RETENTION = Duration.days(14)


class FilerQueue(Construct):
    """Only a committed run (its manifest, written last) produces a message."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, staging_bucket: s3.Bucket
    ) -> None:
        super().__init__(scope, construct_id)
        # SSE-SQS rather than KMS: S3 event notifications cannot publish to a queue encrypted with the
        # AWS-managed KMS key, and a customer key costs a monthly fee for no added protection here.
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=RETENTION,
        )
        self.visibility_timeout = Duration.minutes(settings.filer_timeout_minutes * VISIBILITY_TIMEOUT_FACTOR)
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=RETENTION,
            visibility_timeout=self.visibility_timeout,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=settings.dlq_max_receive_count
            ),
        )
        for queue in (self.dead_letter_queue, self.queue):
            skip_checks(queue, ("CKV_AWS_27", SQS_MANAGED))
        staging_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.SqsDestination(self.queue),
            s3.NotificationKeyFilter(prefix=INCOMING_PREFIX, suffix=MANIFEST_NAME),
        )
