"""Provision, on the embedded S3 server, the same resources the CDK stack creates in AWS.

Staging and archive buckets, the filing queue with its dead-letter queue, and the staging bucket's
notification of manifest arrivals into the queue: with these, the client and the filer run exactly
the code they run in AWS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from artifact_contract import INCOMING_PREFIX, MANIFEST_NAME

from .server import LOCAL_CREDENTIALS, LOCAL_REGION


@dataclass(frozen=True)
class LocalStackNames:
    """Resource names; the defaults echo the user guide's bucket."""

    archive_bucket: str = "rmi-360-raw"
    staging_bucket: str = "rmi-360-raw-staging"
    queue: str = "artifact-backup-filer"
    dead_letter_queue: str = "artifact-backup-filer-dlq"
    #: As in AWS: a message failing this many times moves to the dead-letter queue.
    max_receive_count: int = 3


@dataclass(frozen=True)
class LocalStack:
    """What :func:`provision` created, with everything a client or worker needs to reach it."""

    endpoint_url: str
    region: str
    names: LocalStackNames
    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str

    def client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=64),
        )

    def filer_environment(self, log_level: str = "INFO", **tuning: int | str) -> dict[str, str]:
        """The environment the filer function gets in AWS, pointed at the embedded server;
        ``tuning`` sets filer settings by name (``stop_margin_ms=500``)."""
        from artifact_filer.config import filer_environment

        return {
            **filer_environment(
                staging_bucket=self.names.staging_bucket,
                archive_bucket=self.names.archive_bucket,
                queue_url=self.queue_url,
                log_level=log_level,
                **tuning,
            ),
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            **LOCAL_CREDENTIALS,
        }

    def config_block(self) -> str:
        """The ``aws:`` block of config.yaml that points a client at this stack."""
        return (
            "aws:\n"
            f'  s3_bucket_raw: "{self.names.archive_bucket}"\n'
            f'  s3_bucket_staging: "{self.names.staging_bucket}"\n'
            f'  region: "{self.region}"\n'
            f'  endpoint_url: "{self.endpoint_url}"\n'
        )


def provision(
    endpoint_url: str, names: LocalStackNames | None = None, region: str = LOCAL_REGION
) -> LocalStack:
    """Create (or find) the buckets, queues and notification; safe to call again."""
    names = names or LocalStackNames()
    partial = LocalStack(endpoint_url, region, names, "", "", "")
    s3 = partial.client("s3")
    sqs = partial.client("sqs")

    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in (names.staging_bucket, names.archive_bucket):
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(
        Bucket=names.archive_bucket, VersioningConfiguration={"Status": "Enabled"}
    )

    dlq_url = sqs.create_queue(QueueName=names.dead_letter_queue)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=names.queue,
        Attributes={
            "VisibilityTimeout": "60",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(names.max_receive_count)}
            ),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]

    s3.put_bucket_notification_configuration(
        Bucket=names.staging_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "manifest-arrivals",
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": INCOMING_PREFIX},
                                {"Name": "suffix", "Value": "/" + MANIFEST_NAME},
                            ]
                        }
                    },
                }
            ]
        },
    )
    return LocalStack(endpoint_url, region, names, queue_url, queue_arn, dlq_url)
