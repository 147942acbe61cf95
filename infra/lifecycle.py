"""The archive's lifecycle rules, written once in S3's own API shape.

A bucket the stack creates gets them as CloudFormation lifecycle rules; an imported bucket gets them
merged into its existing configuration by the bucket-settings custom resource, which needs the API
shape. Writing them once keeps both paths identical, and the tests compare the two.

Every rule that moves or deletes data selects on the tags the filer puts on each artifact, so data the
filer did not write (the guide's ``reels/``) is never transitioned or expired, and a run whose objects
are re-tagged ``retention=pinned`` is kept out of every expiration.

Nothing a run record names is deleted by default: replaced (noncurrent) versions, which hold the
files of earlier uploads without a timestamp, expire only when ``noncurrentVersionExpirationDays``
is set, and then only those tagged ``retention=standard`` (``pin`` tags the very versions a pinned
run's record names).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3

from .contract import (
    RETENTION_STANDARD,
    TAG_MANAGED,
    TAG_MANAGED_VALUE,
    TAG_RETENTION,
)
from .settings import Settings

#: Rules whose ID starts with this belong to the stack; anything else in an imported bucket is kept.
RULE_ID_PREFIX = "artifact-backup-"
TRANSITION_RULE_ID = RULE_ID_PREFIX + "transition"
EXPIRATION_RULE_ID = RULE_ID_PREFIX + "expire-standard"
NONCURRENT_RULE_ID = RULE_ID_PREFIX + "expire-noncurrent"
ABORT_UPLOADS_RULE_ID = RULE_ID_PREFIX + "abort-incomplete-uploads"

_MANAGED_TAG = {"Key": TAG_MANAGED, "Value": TAG_MANAGED_VALUE}
_STANDARD_TAG = {"Key": TAG_RETENTION, "Value": RETENTION_STANDARD}


def archive_rules(settings: Settings) -> list[dict[str, Any]]:
    """The rules as ``PutBucketLifecycleConfiguration`` expects them."""
    # Pinned artifacts move to Glacier like the rest (pinning is about keeping, not about speed of
    # access); only the expirations exclude them, by requiring retention=standard.
    rules: list[dict[str, Any]] = [
        {
            "ID": TRANSITION_RULE_ID,
            "Status": "Enabled",
            "Filter": {"Tag": dict(_MANAGED_TAG)},
            "Transitions": [
                {
                    "Days": settings.glacier_transition_days,
                    "StorageClass": settings.glacier_storage_class,
                }
            ],
        },
    ]
    if settings.noncurrent_version_expiration_days:
        rules.append(
            {
                "ID": NONCURRENT_RULE_ID,
                "Status": "Enabled",
                "Filter": {"And": {"Tags": [dict(_MANAGED_TAG), dict(_STANDARD_TAG)]}},
                "NoncurrentVersionExpiration": {
                    "NoncurrentDays": settings.noncurrent_version_expiration_days
                },
            }
        )
    if settings.archive_expiration_days:
        rules.append(
            {
                "ID": EXPIRATION_RULE_ID,
                "Status": "Enabled",
                "Filter": {"And": {"Tags": [dict(_MANAGED_TAG), dict(_STANDARD_TAG)]}},
                "Expiration": {"Days": settings.archive_expiration_days},
            }
        )
    if settings.archive_abort_incomplete_upload_days:
        # S3 refuses a tag filter on this action (an unfinished upload has no tags yet), so it covers
        # the whole bucket. It removes only parts of uploads that never completed, never an object.
        rules.append(
            {
                "ID": ABORT_UPLOADS_RULE_ID,
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "AbortIncompleteMultipartUpload": {
                    "DaysAfterInitiation": settings.archive_abort_incomplete_upload_days
                },
            }
        )
    return rules


def to_cdk_rules(rules: list[dict[str, Any]]) -> list[s3.LifecycleRule]:
    """Translate the API-shaped rules into the construct library's, for a bucket the stack owns."""
    converted = []
    for rule in rules:
        tags = _filter_tags(rule["Filter"])
        props: dict[str, Any] = {
            "id": rule["ID"],
            "enabled": rule["Status"] == "Enabled",
            "tag_filters": tags or None,
        }
        if "Transitions" in rule:
            props["transitions"] = [
                s3.Transition(
                    storage_class=s3.StorageClass(t["StorageClass"]),
                    transition_after=Duration.days(t["Days"]),
                )
                for t in rule["Transitions"]
            ]
        if "NoncurrentVersionExpiration" in rule:
            props["noncurrent_version_expiration"] = Duration.days(
                rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
            )
        if "Expiration" in rule:
            props["expiration"] = Duration.days(rule["Expiration"]["Days"])
        if "AbortIncompleteMultipartUpload" in rule:
            props["abort_incomplete_multipart_upload_after"] = Duration.days(
                rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
            )
        converted.append(s3.LifecycleRule(**props))
    return converted


def _filter_tags(rule_filter: dict[str, Any]) -> dict[str, str]:
    if "Tag" in rule_filter:
        return {rule_filter["Tag"]["Key"]: rule_filter["Tag"]["Value"]}
    if "And" in rule_filter:
        return {t["Key"]: t["Value"] for t in rule_filter["And"].get("Tags", [])}
    return {}
