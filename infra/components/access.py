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
    RECEIPTS_PREFIX,
    RETENTION_PINNED,
    RETENTION_STANDARD,
    RUNS_FOLDER,
    TAG_MANAGED,
    TAG_MANAGED_VALUE,
    TAG_RETENTION,
)
from ._nag import object_wildcard, wildcard_suppression


class AccessPolicies(Construct):
    """``uploader`` can write a run into staging and read its receipt and the project's reuse index;
    ``reader`` works the archive.

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
        incoming = staging_bucket.arn_for_objects(INCOMING_PREFIX + "*")
        self.uploader = iam.ManagedPolicy(
            self,
            "Uploader",
            description="artifact-backup client: upload runs to staging and read the filer's receipts",
            statements=[
                # s3:PutObject also covers CreateMultipartUpload, UploadPart and CompleteMultipartUpload.
                iam.PolicyStatement(
                    sid="UploadRuns",
                    actions=["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                    resources=[incoming],
                ),
                # The reuse index lists checksums, sizes and keys of large files already archived, so
                # an unchanged file is not sent again; it is written by the filer alone.
                iam.PolicyStatement(
                    sid="ReadReceiptsAndReuseIndex",
                    actions=["s3:GetObject"],
                    resources=[
                        staging_bucket.arn_for_objects(RECEIPTS_PREFIX + "*"),
                        staging_bucket.arn_for_objects(INDEX_PREFIX + "*"),
                    ],
                ),
                # Without ListBucket a receipt that is not there yet answers 403 instead of 404, and a
                # resumed upload cannot see which pieces already arrived. Key names are not contents.
                iam.PolicyStatement(
                    sid="ListStaging", actions=["s3:ListBucket"], resources=[staging_bucket.bucket_arn]
                ),
            ],
        )
        archive_objects = archive_bucket.arn_for_objects("*")
        managed_only = {f"s3:ExistingObjectTag/{TAG_MANAGED}": TAG_MANAGED_VALUE}
        self.reader = iam.ManagedPolicy(
            self,
            "Reader",
            description="artifact-backup archive: list, download, restore from Glacier and pin runs",
            statements=[
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
                iam.PolicyStatement(
                    sid="RestoreArtifacts",
                    actions=["s3:RestoreObject"],
                    resources=[archive_objects],
                    conditions={"StringEquals": managed_only},
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
            ],
        )
        NagSuppressions.add_resource_suppressions(
            self.uploader,
            [
                wildcard_suppression(
                    "Each run uploads under its own incoming/{project}/{run_id}/ and its receipt is "
                    "receipts/{project}/{run_id}.json, chosen by the client at upload time; the reuse "
                    "index is index/{project}/reuse.json for any project.",
                    [
                        object_wildcard(staging_bucket, INCOMING_PREFIX + "*"),
                        object_wildcard(staging_bucket, RECEIPTS_PREFIX + "*"),
                        object_wildcard(staging_bucket, INDEX_PREFIX + "*"),
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
