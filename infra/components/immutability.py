"""Object Lock: a write-once archive, and the legal holds ``pin`` places on a run.

With ``objectLockMode`` set, the archive (and its replica) is created with Object Lock and a default
retention: every version written stays undeletable and unchangeable for ``objectLockRetentionDays``
(in GOVERNANCE mode an identity allowed ``s3:BypassGovernanceRetention`` may still remove one; in
COMPLIANCE mode nobody can, the account's root user included). ``pin`` also places a legal hold,
which keeps the run's versions until ``unpin`` lifts it, however long after the retention ends.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from cdk_nag import NagSuppressions

from ..contract import RUNS_FOLDER, TAG_MANAGED, TAG_MANAGED_VALUE
from ..settings import Settings
from ._nag import object_wildcard, wildcard_suppression


def default_retention(settings: Settings) -> s3.ObjectLockRetention | None:
    if not settings.object_lock:
        return None
    days = Duration.days(settings.object_lock_retention_days)
    if settings.object_lock_mode == "COMPLIANCE":
        return s3.ObjectLockRetention.compliance(days)
    return s3.ObjectLockRetention.governance(days)


def detect_statement(bucket: s3.IBucket, sid: str = "DetectObjectLock") -> iam.PolicyStatement:
    """``pin`` asks the bucket whether it has Object Lock before it places a hold."""
    return iam.PolicyStatement(
        sid=sid, actions=["s3:GetBucketObjectLockConfiguration"], resources=[bucket.bucket_arn]
    )


def legal_hold_statements(settings: Settings, bucket: s3.IBucket) -> list[iam.PolicyStatement]:
    """What the reader needs for ``pin``/``unpin`` beyond tagging: detection always (cheap, and it
    tells a bucket without Object Lock from one the reader may not inspect), holds only when the
    bucket has Object Lock, and only on artifacts the filer wrote (tagged) and on run records."""
    statements = [detect_statement(bucket)]
    if settings.object_lock:
        statements.append(
            iam.PolicyStatement(
                sid="HoldPinnedRuns",
                actions=["s3:PutObjectLegalHold"],
                resources=[bucket.arn_for_objects("*")],
                conditions={"StringEquals": {f"s3:ExistingObjectTag/{TAG_MANAGED}": TAG_MANAGED_VALUE}},
            )
        )
        # The record carries no tags; without it a held run could no longer be listed or read.
        statements.append(
            iam.PolicyStatement(
                sid="HoldPinnedRunRecords",
                actions=["s3:PutObjectLegalHold"],
                resources=[bucket.arn_for_objects(f"*/{RUNS_FOLDER}/*")],
            )
        )
    return statements


def grant_legal_holds(settings: Settings, reader: iam.ManagedPolicy, bucket: s3.IBucket) -> None:
    """Add :func:`legal_hold_statements` to the reader policy."""
    reader.add_statements(*legal_hold_statements(settings, bucket))
    if settings.object_lock:
        NagSuppressions.add_resource_suppressions(reader, [wildcard_suppression(
            "A pinned run's record lives at {project}/_runs/{run}/, for any project and run.",
            [object_wildcard(bucket, f"*/{RUNS_FOLDER}/*")])])
