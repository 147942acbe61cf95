"""Empty a server through the S3 and SQS APIs, for servers without moto's reset endpoint.

Order matters as it does in AWS: a bucket is deleted only once its unfinished multipart uploads
are aborted and every object version and delete marker is gone. Queues go first, so no filer
keeps receiving events about objects being deleted.
"""

from __future__ import annotations

from typing import Any

#: DeleteObjects takes at most this many keys per request.
_DELETE_BATCH = 1000


def wipe(s3: Any, sqs: Any) -> None:
    """Delete every queue, then every bucket with everything in it."""
    for url in sqs.list_queues().get("QueueUrls", []):
        sqs.delete_queue(QueueUrl=url)
    for bucket in s3.list_buckets().get("Buckets", []):
        empty_bucket(s3, bucket["Name"])
        s3.delete_bucket(Bucket=bucket["Name"])


def empty_bucket(s3: Any, bucket: str) -> None:
    """Abort the bucket's multipart uploads and delete every version and delete marker in it."""
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        doomed = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for kind in ("Versions", "DeleteMarkers")
            for v in page.get(kind, [])
        ]
        for start in range(0, len(doomed), _DELETE_BATCH):
            s3.delete_objects(
                Bucket=bucket, Delete={"Objects": doomed[start : start + _DELETE_BATCH], "Quiet": True}
            )
