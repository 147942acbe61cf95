"""Empty a server through the S3 and SQS APIs, for servers without moto's reset endpoint.

Order matters as it does in AWS: a bucket is deleted only once its unfinished multipart uploads
are aborted and every object version and delete marker is gone. Queues go first, so no filer
keeps receiving events about objects being deleted.
"""

from __future__ import annotations

import contextlib
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
    """Abort the bucket's multipart uploads and delete every version and delete marker in it.

    A bucket with Object Lock (the archive as deployed with ``objectLockMode``) has its legal holds
    lifted and its GOVERNANCE retention bypassed first; a version that still cannot be deleted
    (COMPLIANCE retention) is an error naming it rather than a bucket left half-emptied.
    """
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    locked = _object_lock(s3, bucket)
    bypass = {"BypassGovernanceRetention": True} if locked else {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        if locked:
            for v in page.get("Versions", []):
                _lift_hold(s3, bucket, v["Key"], v["VersionId"])
        doomed = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for kind in ("Versions", "DeleteMarkers")
            for v in page.get(kind, [])
        ]
        for start in range(0, len(doomed), _DELETE_BATCH):
            answer = s3.delete_objects(
                Bucket=bucket, Delete={"Objects": doomed[start : start + _DELETE_BATCH], "Quiet": True},
                **bypass,
            )
            if errors := answer.get("Errors"):
                first = errors[0]
                raise RuntimeError(f"cannot empty bucket {bucket}: {len(errors)} version(s) not deleted, "
                                   f"e.g. {first.get('Key')} ({first.get('Code')}: {first.get('Message')})")


def _object_lock(s3: Any, bucket: str) -> bool:
    try:
        answer = s3.get_object_lock_configuration(Bucket=bucket)
    except Exception:  # no configuration, or a server that does not know the request
        return False
    return answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"


def _lift_hold(s3: Any, bucket: str, key: str, version_id: str) -> None:
    # A version without a hold, or gone already: the delete that follows says if it matters.
    with contextlib.suppress(Exception):
        s3.put_object_legal_hold(Bucket=bucket, Key=key, VersionId=version_id, LegalHold={"Status": "OFF"})
