"""The filer: a container-image Lambda fed by the queue, with a role scoped to the staging protocol."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagSuppressions
from constructs import Construct

from ..contract import (
    INCOMING_PREFIX,
    INDEX_PREFIX,
    PROGRESS_PREFIX,
    QUARANTINE_PREFIX,
    RECEIPTS_PREFIX,
    REPO_ROOT,
    RETENTION_PINNED,
    RETENTION_STANDARD,
    TAG_MANAGED,
    TAG_MANAGED_VALUE,
    TAG_RETENTION,
    filer_environment,
)
from ..settings import Settings
from ._checkov import LOGS_AT_REST, NO_VPC, PLAIN_ENVIRONMENT, skip_checks
from ._logs import retention
from ._nag import object_wildcard, wildcard_suppression

#: The filer's ephemeral storage (/tmp), in MiB.
FILER_TMP_MB = 2048

DOCKERFILE = "lambdas/Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
METRICS_NAMESPACE = "ArtifactBackup"


#: Archive keys of timestamped runs and their claims and records: ``{project}/{type}/{YYYYMMDD_HHMM}/...``
#: (IAM's ``?`` matches one character, ``*`` any run of them, slashes included).
TIMESTAMPED_KEYS = "*/*/" + "?" * 8 + "_" + "?" * 4 + "/*"


def archive_write_statements(archive: s3.IBucket) -> list[iam.PolicyStatement]:
    """Write and tag artifacts, but never rewrite history (docs/deploy.md, "What the filer cannot do").

    Every condition key here is one S3 supplies for the action it guards (the Service Authorization
    Reference): ``s3:if-none-match``, ``s3:if-match`` and ``s3:ObjectCreationOperation`` for
    PutObject (which also authorizes CopyObject and CompleteMultipartUpload), ``s3:RequestObjectTag/*``,
    ``s3:RequestObjectTagKeys`` and ``s3:ExistingObjectTag/*`` for PutObjectTagging (which a write
    carrying tags needs too).
    """
    objects = archive.arn_for_objects("*")
    return [
        iam.PolicyStatement(
            sid="ArchiveWriteArtifacts",
            actions=["s3:PutObject", "s3:AbortMultipartUpload"],
            resources=[objects],
        ),
        # The only tags the filer sets are the ones it files with: managed, retention=standard.
        iam.PolicyStatement(
            sid="ArchiveTagAsFiledOnly",
            actions=["s3:PutObjectTagging"],
            resources=[objects],
            conditions={
                "StringEquals": {
                    f"s3:RequestObjectTag/{TAG_MANAGED}": TAG_MANAGED_VALUE,
                    f"s3:RequestObjectTag/{TAG_RETENTION}": RETENTION_STANDARD,
                },
                "ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": [TAG_MANAGED, TAG_RETENTION]},
            },
        ),
        # Re-tagging a pinned object would un-pin it (and an overwrite then leave the pinned copy to
        # the noncurrent-version expiry): never, whatever the request's tags.
        iam.PolicyStatement(
            sid="ArchiveNeverRetagPinned",
            effect=iam.Effect.DENY,
            actions=["s3:PutObjectTagging"],
            resources=[objects],
            conditions={"StringEquals": {f"s3:ExistingObjectTag/{TAG_RETENTION}": RETENTION_PINNED}},
        ),
        # A timestamped run's objects are never written blind: every request that creates one must
        # carry If-None-Match: * (the key must be free) or If-Match on the ETag the filer has just
        # read (a claim it releases or takes over, or a file left by a refused run that no record
        # names; docs/protocol.md, steps 6 and 7). The parts of a multipart upload
        # (s3:ObjectCreationOperation false) carry no conditional header; their completion does.
        iam.PolicyStatement(
            sid="ArchiveTimestampedWriteOnce",
            effect=iam.Effect.DENY,
            actions=["s3:PutObject"],
            resources=[archive.arn_for_objects(TIMESTAMPED_KEYS)],
            conditions={
                "Null": {"s3:if-none-match": "true", "s3:if-match": "true"},
                "Bool": {"s3:ObjectCreationOperation": "true"},
            },
        ),
    ]


class Filer(Construct):
    """``function`` files runs; ``role`` and ``s3_policy`` are what it may do, and no more.

    The S3 statements follow docs/protocol.md step by step: read a run's pieces and receipts, delete
    the pieces once filed, write receipts and quarantine copies, read and write the projects' reuse
    indexes and its own progress notes on runs that take more than one invocation (which it also
    continues by sending itself a message on ``queue``); on the archive, read back its own
    writes, claims and run records (idempotency), write and tag artifacts. It can delete nothing in
    the archive, and has no wildcard action.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        staging_bucket: s3.IBucket,
        archive_bucket: s3.IBucket,
        queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        if not DOCKERIGNORE.is_file():
            # Without it the image's build context would be the whole checkout (.git, .venv, ...).
            raise FileNotFoundError(f"{DOCKERIGNORE} is missing: the filer image context needs it")
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=retention(settings.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        skip_checks(self.log_group, ("CKV_AWS_158", LOGS_AT_REST))
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Artifact filer: staging protocol on staging, write and tag on the archive",
        )
        self.log_group.grant_write(self.role)
        self.s3_policy = self._s3_policy(staging_bucket, archive_bucket)
        self.image_code, self.function = self._function(settings, staging_bucket, archive_bucket, queue)
        self.event_source = sources.SqsEventSource(
            queue,
            batch_size=settings.filer_batch_size,
            report_batch_item_failures=True,
            max_concurrency=settings.filer_max_concurrency or None,
        )
        self.function.add_event_source(self.event_source)
        # A filing longer than one invocation continues through a message to its own queue: that
        # one action (``grant_send_messages`` would add the attribute and URL lookups too).
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="ContinueLongFilings", actions=["sqs:SendMessage"], resources=[queue.queue_arn]))

    def _s3_policy(self, staging_bucket: s3.IBucket, archive_bucket: s3.IBucket) -> iam.Policy:
        """The role's S3 statements, with why each object wildcard is as narrow as it can be."""
        policy = iam.Policy(
            self,
            "S3Access",
            roles=[self.role],
            statements=self._s3_statements(staging_bucket, archive_bucket),
        )
        NagSuppressions.add_resource_suppressions(
            policy,
            [
                wildcard_suppression(
                    "Object keys are per run (incoming/{project}/{run_id}/..., receipts/{project}/..., "
                    "quarantine/{project}/..., progress/{project}/...) or per project "
                    "(index/{project}/reuse.json): the "
                    "prefixes of docs/protocol.md are the narrowest resource that still names every run.",
                    [
                        object_wildcard(staging_bucket, INCOMING_PREFIX + "*"),
                        object_wildcard(staging_bucket, RECEIPTS_PREFIX + "*"),
                        object_wildcard(staging_bucket, QUARANTINE_PREFIX + "*"),
                        object_wildcard(staging_bucket, INDEX_PREFIX + "*"),
                        object_wildcard(staging_bucket, PROGRESS_PREFIX + "*"),
                    ],
                ),
                wildcard_suppression(
                    "Archive keys start with the project key ({project}/{type}/{ts}/...), so no fixed "
                    "prefix covers them; the actions are limited to write, tag and read, never delete, "
                    "and denied where they would rewrite a timestamped or pinned object.",
                    [object_wildcard(archive_bucket, "*"), object_wildcard(archive_bucket, TIMESTAMPED_KEYS)],
                ),
            ],
        )
        return policy

    def _function(
        self, settings: Settings, staging_bucket: s3.IBucket, archive_bucket: s3.IBucket, queue: sqs.IQueue
    ) -> tuple[lambda_.DockerImageCode, lambda_.DockerImageFunction]:
        """The container-image function, built for the configured architecture."""
        arm = settings.filer_architecture == "arm64"
        architecture = lambda_.Architecture.ARM_64 if arm else lambda_.Architecture.X86_64
        platform = ecr_assets.Platform.LINUX_ARM64 if arm else ecr_assets.Platform.LINUX_AMD64
        # Build context is the repository root so the image can carry contract/ next to lambdas/;
        # the root .dockerignore keeps everything else out (the asset staging honours it too).
        image_code = lambda_.DockerImageCode.from_image_asset(
            str(REPO_ROOT), file=DOCKERFILE, platform=platform
        )
        function = lambda_.DockerImageFunction(
            self,
            "Function",
            code=image_code,
            architecture=architecture,
            memory_size=settings.filer_memory_mb,
            # /tmp holds the manifest's copy, its parsed entries (artifact_contract.FileSpool) and
            # the run record on its way: a few hundred MB for 200,000 files with long paths, more
            # than the default 512 MB.
            ephemeral_storage_size=Size.mebibytes(FILER_TMP_MB),
            timeout=Duration.minutes(settings.filer_timeout_minutes),
            role=self.role,
            log_group=self.log_group,
            description="Files committed runs from staging into the archive",
            environment=filer_environment(
                staging_bucket=staging_bucket.bucket_name,
                archive_bucket=archive_bucket.bucket_name,
                queue_url=queue.queue_url,
                log_level="INFO",
                metrics_namespace=METRICS_NAMESPACE,
                # A reuse source must still be copyable (not yet in Glacier) when a later run asks
                # for it, so index entries retire well before the transition.
                reuse_max_age_days=max(1, settings.glacier_transition_days * 2 // 3),
            ),
        )
        skip_checks(
            function,
            ("CKV_AWS_115", "Concurrency is bounded where the work arrives: the SQS event source's "
             "maximum concurrency (filerMaxConcurrency, 5 by default). Reserved concurrency would take "
             "that much from the account's pool for good, and below the source's maximum it throttles "
             "deliveries into the dead-letter queue."),
            ("CKV_AWS_116", "The filer is invoked by its SQS event source, never asynchronously, so a "
             "function DLQ would receive nothing; its queue's own dead-letter queue takes what fails."),
            ("CKV_AWS_117", NO_VPC),
            ("CKV_AWS_173", PLAIN_ENVIRONMENT),
        )
        return image_code, function

    @staticmethod
    def _s3_statements(staging: s3.IBucket, archive: s3.IBucket) -> list[iam.PolicyStatement]:
        incoming = staging.arn_for_objects(INCOMING_PREFIX + "*")
        receipts = staging.arn_for_objects(RECEIPTS_PREFIX + "*")
        quarantine = staging.arn_for_objects(QUARANTINE_PREFIX + "*")
        index = staging.arn_for_objects(INDEX_PREFIX + "*")
        progress = staging.arn_for_objects(PROGRESS_PREFIX + "*")
        return [
            iam.PolicyStatement(
                sid="StagingReadRunsReceiptsIndexAndProgress",
                actions=["s3:GetObject"],
                resources=[incoming, receipts, index, progress],
            ),
            iam.PolicyStatement(
                sid="StagingCleanFiledRuns", actions=["s3:DeleteObject"], resources=[incoming, progress]
            ),
            iam.PolicyStatement(
                sid="StagingWriteReceiptsQuarantineIndexAndProgress",
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[receipts, quarantine, index, progress],
            ),
            # Listing lets a missing receipt read as 404 rather than 403, and finds a run's pieces
            # when a refused run is moved to quarantine.
            iam.PolicyStatement(sid="StagingList", actions=["s3:ListBucket"], resources=[staging.bucket_arn]),
            *archive_write_statements(archive),
            # Reading back its own writes (run-id metadata after a 412), claims and run records is
            # what makes a re-delivered message end in the same archive state.
            iam.PolicyStatement(
                sid="ArchiveReadOwnRecords",
                actions=["s3:GetObject"],
                resources=[archive.arn_for_objects("*")],
            ),
            iam.PolicyStatement(sid="ArchiveList", actions=["s3:ListBucket"], resources=[archive.bucket_arn]),
            # An upload without a timestamp replaces the latest copy only where the archive keeps the
            # earlier one as a version (its run record names it); a long filing finds its own versions
            # again once a later run has replaced them.
            iam.PolicyStatement(
                sid="ArchiveVersioningAndVersions",
                actions=["s3:GetBucketVersioning", "s3:ListBucketVersions"],
                resources=[archive.bucket_arn],
            ),
            iam.PolicyStatement(
                sid="ArchiveReadOwnVersions", actions=["s3:GetObjectVersion"],
                resources=[archive.arn_for_objects("*")],
            ),
        ]
