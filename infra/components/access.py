"""Managed policies for people: the uploader (the processing machine) and the reader of the archive.

The stack creates policies, not users or roles: who gets them (an IAM user on the processing PC, an
SSO permission set, a role) is an account decision. Both ARNs are stack outputs.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from cdk_nag import NagSuppressions
from constructs import Construct

from ..contract import (
    INCOMING_PREFIX,
    INDEX_PREFIX,
    PIN_NOTE_NAME,
    PROGRESS_PREFIX,
    PROJECT_TAG,
    RECEIPTS_PREFIX,
    RETENTION_PINNED,
    RETENTION_STANDARD,
    RUNS_FOLDER,
    TAG_MANAGED,
    TAG_MANAGED_VALUE,
    TAG_RETENTION,
)
from ._nag import object_wildcard, wildcard_suppression

#: How many projects one identity may be tagged with: the policy names each tag key.
PROJECT_TAG_SLOTS = 5


def project_tag_keys() -> list[str]:
    """``artifact-backup-project``, ``artifact-backup-project-2``, ... up to the slots."""
    return [PROJECT_TAG] + [f"{PROJECT_TAG}-{n}" for n in range(2, PROJECT_TAG_SLOTS + 1)]


def project_variables() -> list[str]:
    """The policy variables IAM replaces with the caller's tag values; a tag the caller lacks
    matches nothing, so an untagged identity may upload nothing."""
    return ["${aws:PrincipalTag/" + key + "}" for key in project_tag_keys()]


def uploader_statements(staging_bucket: s3.IBucket) -> list[iam.PolicyStatement]:
    """Upload, receipt and reuse-index rights, each scoped to the caller's tagged projects."""
    projects = project_variables()

    def objects(prefix: str) -> list[str]:
        return [staging_bucket.arn_for_objects(f"{prefix}{project}/*") for project in projects]

    return [
        # s3:PutObject also covers CreateMultipartUpload, UploadPart and CompleteMultipartUpload.
        iam.PolicyStatement(
            sid="UploadRunsOfOwnProjects",
            actions=["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            resources=objects(INCOMING_PREFIX),
        ),
        # The reuse index lists checksums, sizes and keys of large files already archived, so an
        # unchanged file is not sent again; the filer's progress notes let a waiting upload show
        # what the filer is doing. Both are written by the filer alone.
        iam.PolicyStatement(
            sid="ReadOwnReceiptsAndReuseIndex",
            actions=["s3:GetObject"],
            resources=objects(RECEIPTS_PREFIX) + objects(INDEX_PREFIX) + objects(PROGRESS_PREFIX),
        ),
        # Listing its own runs lets a resumed upload see which pieces already arrived, and a receipt
        # that is not there yet answer 404 rather than 403.
        iam.PolicyStatement(
            sid="ListOwnStaging",
            actions=["s3:ListBucket"],
            resources=[staging_bucket.bucket_arn],
            conditions={
                "StringLike": {
                    "s3:prefix": [
                        f"{prefix}{project}/*" for project in projects
                        for prefix in (INCOMING_PREFIX, RECEIPTS_PREFIX)
                    ]
                }
            },
        ),
    ]


def reader_statements(archive_bucket: s3.IBucket) -> list[iam.PolicyStatement]:
    """List, download, restore and pin in the archive; write only a run's pin note."""
    archive_objects = archive_bucket.arn_for_objects("*")
    managed_only = {f"s3:ExistingObjectTag/{TAG_MANAGED}": TAG_MANAGED_VALUE}
    return [
        iam.PolicyStatement(
            sid="ListArchive",
            actions=["s3:ListBucket", "s3:GetBucketLocation"],
            resources=[archive_bucket.bucket_arn],
        ),
        iam.PolicyStatement(
            sid="DownloadArchive",
            # GetObjectVersion: an earlier upload without a timestamp is read at the version
            # its run record names, once a later one has replaced the latest copy.
            actions=["s3:GetObject", "s3:GetObjectTagging", "s3:GetObjectVersion"],
            resources=[archive_objects],
        ),
        # S3 supplies no object-tag condition key for RestoreObject (docs/deploy.md), so a
        # tag condition here would never match and deny every restore; a restore only makes
        # a temporary copy of an object the reader may download anyway.
        iam.PolicyStatement(
            sid="RestoreArtifacts", actions=["s3:RestoreObject"], resources=[archive_objects]
        ),
        # `pin --note` keeps the note beside the run record, where `runs` reads it; nothing
        # else in the archive is writable by a reader.
        iam.PolicyStatement(
            sid="WritePinNotes",
            actions=["s3:PutObject"],
            resources=[archive_bucket.arn_for_objects(f"*/{RUNS_FOLDER}/*/{PIN_NOTE_NAME}")],
        ),
        # Pinning rewrites an artifact's tag set; the conditions keep it to the two tags the
        # lifecycle rules read, on objects the filer wrote, with the managed tag kept intact.
        iam.PolicyStatement(
            sid="PinArtifacts",
            actions=["s3:PutObjectTagging", "s3:PutObjectVersionTagging"],
            resources=[archive_objects],
            conditions={
                "StringEquals": {
                    **managed_only,
                    f"s3:RequestObjectTag/{TAG_MANAGED}": TAG_MANAGED_VALUE,
                    f"s3:RequestObjectTag/{TAG_RETENTION}": [RETENTION_STANDARD, RETENTION_PINNED],
                },
                "ForAllValues:StringEquals": {
                    "s3:RequestObjectTagKeys": [TAG_MANAGED, TAG_RETENTION]
                },
            },
        ),
    ]


class AccessPolicies(Construct):
    """``uploader`` can write a run into staging and read its receipt and the project's reuse index,
    for the projects its identity is tagged with (``PROJECT_TAG``); ``reader`` works the archive.

    The uploader policy names nothing in the archive, so with it alone the client can neither read,
    change nor delete an archived object. There is deliberately no explicit Deny on the archive:
    the same person often holds both policies, and a Deny would take the reader's rights away.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        staging_bucket: s3.IBucket,
        archive_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.uploader = iam.ManagedPolicy(
            self,
            "Uploader",
            description="artifact-backup client: upload runs of the projects its identity is tagged with "
            "and read their receipts",
            statements=uploader_statements(staging_bucket),
        )
        self.reader = iam.ManagedPolicy(
            self,
            "Reader",
            description="artifact-backup archive: list, download, restore from Glacier and pin runs",
            statements=reader_statements(archive_bucket),
        )
        NagSuppressions.add_resource_suppressions(
            self.uploader,
            [
                wildcard_suppression(
                    "Each run uploads under its own incoming/{project}/{run_id}/ and its receipt is "
                    "receipts/{project}/{run_id}.json, chosen by the client at upload time; the project "
                    "is the identity's own, from its principal tags (docs/deploy.md).",
                    [
                        # cdk-nag writes a policy variable ${...} as <...>.
                        object_wildcard(staging_bucket, f"{prefix}<aws:PrincipalTag/{key}>/*")
                        for key in project_tag_keys()
                        for prefix in (INCOMING_PREFIX, RECEIPTS_PREFIX, INDEX_PREFIX, PROGRESS_PREFIX)
                    ],
                )
            ],
        )
        NagSuppressions.add_resource_suppressions(
            self.reader,
            [
                wildcard_suppression(
                    "Readers browse any project's runs; restoring and pinning are further limited by "
                    "tag conditions to objects the filer wrote; the only key a reader may write is a "
                    "run's pin note, beside its run record in any project.",
                    [
                        object_wildcard(archive_bucket, "*"),
                        object_wildcard(archive_bucket, f"*/{RUNS_FOLDER}/*/{PIN_NOTE_NAME}"),
                    ],
                )
            ],
        )
