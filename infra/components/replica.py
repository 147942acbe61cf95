"""A copy of the archive in another region: the replica bucket, and the replication that feeds it.

CloudFormation creates a stack's resources in the stack's own region, so the replica lives in a
second stack deployed to ``replicaRegion`` before the main one (``infra.stack.build``). The two
stacks share no CloudFormation export (exports do not cross regions): the main stack names the
replica's bucket, key alias and the replication role's name pattern, all derived from the settings,
so each stack can be deployed and read on its own, and the replica stays usable with its region's
CloudFormation alone when the main region is lost.

Replication copies every new object version with its tags, metadata and Object Lock retention;
deletions are not replicated (no delete markers, and S3 never replicates the deletion of a version),
so nothing removed from the archive is removed from the replica.
"""

from __future__ import annotations

import re

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from ..contract import TAG_MANAGED, TAG_MANAGED_VALUE
from ..lifecycle import RULE_ID_PREFIX, archive_rules, to_cdk_rules
from ..settings import Settings
from ._checkov import skip_checks
from ._nag import object_wildcard, wildcard_suppression
from .audit import log_requests
from .encryption import DECRYPT_ACTIONS, allow_use, new_bucket_key, s3_use_conditions
from .immutability import default_retention, detect_statement

REPLICATION_RULE_ID = RULE_ID_PREFIX + "replicate"
#: What replication writes into the replica: data encrypted with the replica's key.
REPLICA_ENCRYPT_ACTIONS = ["kms:Encrypt", "kms:GenerateDataKey"]


def _slug(stack_name: str, length: int) -> str:
    return re.sub(r"[^a-z0-9-]", "-", stack_name.lower())[:length].strip("-")


def replica_bucket_name(settings: Settings) -> str:
    """``replicaBucketName``, or ``{stack}-replica-{account}-{region}`` (unique per account and
    region, at most 63 characters)."""
    if settings.replica_bucket_name:
        return settings.replica_bucket_name
    return f"{_slug(settings.stack_name, 20)}-replica-{Aws.ACCOUNT_ID}-{settings.replica_region}"


def replica_key_alias(settings: Settings) -> str:
    return f"alias/artifact-backup/{_slug(settings.stack_name, 100)}-replica"


def replication_role_name(settings: Settings, region: str = Aws.REGION) -> str:
    """The role's name carries the main stack's region, so the replica's key policy can name it
    before the role exists (IAM names are account-wide)."""
    return f"{_slug(settings.stack_name, 32)}-replication-{region}"


def replica_key_arn(settings: Settings) -> str | None:
    """A multi-Region key named by ARN is used in the replica's region by its replica (same ID);
    None: the replica stack creates its own key (or none, with S3-managed keys)."""
    key = settings.archive_kms_key
    if key.startswith("arn:") and ":key/mrk-" in key:
        parts = key.split(":")
        parts[3] = settings.replica_region
        return ":".join(parts)
    return None


def _nag_form(finding: str) -> str:
    """A finding as cdk-nag prints it: pseudo parameters as ``<AWS::...>``."""
    return finding.replace(Aws.PARTITION, "<AWS::Partition>").replace(Aws.ACCOUNT_ID, "<AWS::AccountId>")


class ReplicaBucket(Construct):
    """``bucket``: versioned, encrypted (with ``key`` when the archive uses KMS), the archive's own
    lifecycle rules, Object Lock when set; ``reader`` reads and restores from it."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, access_logs: s3.IBucket | None
    ) -> None:
        super().__init__(scope, construct_id)
        region = settings.replica_region
        self.key: kms.IKey | None = None
        mrk = replica_key_arn(settings)
        if mrk:
            self.key = kms.Key.from_key_arn(self, "Key", mrk)
        elif settings.archive_kms_key:
            created = new_bucket_key(self, "Key", description="artifact-backup replica objects")
            created.add_alias(replica_key_alias(settings))
            self.key = created
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=replica_bucket_name(settings),
            versioned=True,
            encryption=s3.BucketEncryption.KMS if self.key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=self.key,
            bucket_key_enabled=True if self.key else None,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=to_cdk_rules(archive_rules(settings)),
            object_lock_enabled=True if settings.object_lock else None,
            object_lock_default_retention=default_retention(settings),
        )
        if access_logs is not None:
            log_requests(self.bucket, access_logs)
        else:
            reason = "auditTrail=cloudtrail: a trail in the replica's region records its data events."
            skip_checks(self.bucket, ("CKV_AWS_18", reason))
            NagSuppressions.add_resource_suppressions(
                self.bucket, [NagPackSuppression(id="AwsSolutions-S1", reason=reason)])
        if isinstance(self.key, kms.Key):
            named = f"arn:{Aws.PARTITION}:s3:::{replica_bucket_name(settings)}"
            role_arn = (f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/"
                        f"{replication_role_name(settings, '*')}")
            allow_use(self.key, "ReplicationEncryptsReplicas", iam.AccountRootPrincipal(),
                      REPLICA_ENCRYPT_ACTIONS, named, region=region,
                      conditions={"ArnLike": {"aws:PrincipalArn": role_arn}})
            allow_use(self.key, "ReadersDecryptReplicas", iam.AccountRootPrincipal(), DECRYPT_ACTIONS,
                      named, region=region)
        self.reader = self._reader(region)

    def _reader(self, region: str) -> iam.ManagedPolicy:
        """Reading and restoring only: the replica is written by replication alone, and pins and
        their notes arrive with it from the archive."""
        objects = self.bucket.arn_for_objects("*")
        statements = [
            iam.PolicyStatement(sid="ListReplica", actions=["s3:ListBucket", "s3:GetBucketLocation"],
                                resources=[self.bucket.bucket_arn]),
            iam.PolicyStatement(sid="DownloadReplica", actions=["s3:GetObject", "s3:GetObjectTagging"],
                                resources=[objects]),
            iam.PolicyStatement(
                sid="RestoreReplicaArtifacts", actions=["s3:RestoreObject"], resources=[objects],
                conditions={"StringEquals": {f"s3:ExistingObjectTag/{TAG_MANAGED}": TAG_MANAGED_VALUE}},
            ),
            detect_statement(self.bucket, sid="DetectReplicaObjectLock"),
        ]
        if self.key is not None:
            statements.append(iam.PolicyStatement(
                sid="DecryptReplicaObjects", actions=DECRYPT_ACTIONS, resources=[self.key.key_arn],
                conditions=s3_use_conditions(self.bucket.bucket_arn, region)))
        reader = iam.ManagedPolicy(
            self, "Reader",
            description="artifact-backup replica: list, download and restore runs from the replica",
            statements=statements,
        )
        NagSuppressions.add_resource_suppressions(reader, [wildcard_suppression(
            "Readers browse any project's runs in the replica, as in the archive; restoring is limited "
            "to objects the filer wrote by their tag.", [object_wildcard(self.bucket, "*")])])
        return reader


class ArchiveReplication(Construct):
    """The archive's replication rule and its role, which may read the archive's versions for
    replication and write replicas into the one replica bucket, and nothing else."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        archive: s3.Bucket,
        archive_key: kms.IKey | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.replica_bucket_name = replica_bucket_name(settings)
        replica_arn = f"arn:{Aws.PARTITION}:s3:::{self.replica_bucket_name}"
        self.role = iam.Role(
            self,
            "Role",
            role_name=replication_role_name(settings),
            assumed_by=iam.ServicePrincipal(
                "s3.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
            description="S3 replication of the artifact-backup archive into its replica",
        )
        self.policy = self._policy(settings, archive, replica_arn)
        rule = {
            "id": REPLICATION_RULE_ID,
            "status": "Enabled",
            "priority": 1,
            "filter": s3.CfnBucket.ReplicationRuleFilterProperty(prefix=""),
            "delete_marker_replication": s3.CfnBucket.DeleteMarkerReplicationProperty(status="Disabled"),
            "destination": s3.CfnBucket.ReplicationDestinationProperty(
                bucket=replica_arn,
                encryption_configuration=s3.CfnBucket.EncryptionConfigurationProperty(
                    replica_kms_key_id=self._replica_key_id(settings)
                ) if archive_key else None,
            ),
        }
        if archive_key:
            rule["source_selection_criteria"] = s3.CfnBucket.SourceSelectionCriteriaProperty(
                sse_kms_encrypted_objects=s3.CfnBucket.SseKmsEncryptedObjectsProperty(status="Enabled"))
        cfn_bucket: s3.CfnBucket = archive.node.default_child  # type: ignore[assignment]
        cfn_bucket.replication_configuration = s3.CfnBucket.ReplicationConfigurationProperty(
            role=self.role.role_arn, rules=[s3.CfnBucket.ReplicationRuleProperty(**rule)])

    def _policy(self, settings: Settings, archive: s3.Bucket, replica_arn: str) -> iam.Policy:
        source_reads = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                        "s3:GetObjectVersionTagging"]
        if settings.object_lock:
            # A replica keeps its source's retention and legal hold; replication must read them.
            source_reads += ["s3:GetObjectRetention", "s3:GetObjectLegalHold"]
        statements = [
            iam.PolicyStatement(sid="ReadReplicationConfiguration",
                                actions=["s3:GetReplicationConfiguration", "s3:ListBucket"],
                                resources=[archive.bucket_arn]),
            iam.PolicyStatement(sid="ReadArchiveVersions", actions=source_reads,
                                resources=[archive.arn_for_objects("*")]),
            # No s3:ReplicateDelete: deletions in the archive never reach the replica.
            iam.PolicyStatement(sid="WriteReplicas", actions=["s3:ReplicateObject", "s3:ReplicateTags"],
                                resources=[f"{replica_arn}/*"]),
        ]
        findings = [object_wildcard(archive, "*"), _nag_form(f"Resource::{replica_arn}/*")]
        destination_key = self._replica_key(settings)
        if destination_key:
            resource, conditions = destination_key
            statements.append(iam.PolicyStatement(
                sid="EncryptReplicas", actions=REPLICA_ENCRYPT_ACTIONS, resources=[resource],
                conditions={**s3_use_conditions(replica_arn, settings.replica_region), **conditions}))
            findings.append(_nag_form(f"Resource::{resource}"))
        policy = iam.Policy(self, "Policy", roles=[self.role], statements=statements)
        NagSuppressions.add_resource_suppressions(policy, [wildcard_suppression(
            "Replication copies every object version of the archive into the replica, whatever its key; "
            "the replica's key is chosen by KMS in the other stack and is named here by its alias "
            "(kms:ResourceAliases).", findings)])
        return policy

    @staticmethod
    def _replica_key_id(settings: Settings) -> str:
        return replica_key_arn(settings) or (
            f"arn:{Aws.PARTITION}:kms:{settings.replica_region}:{Aws.ACCOUNT_ID}:{replica_key_alias(settings)}"
        )

    @staticmethod
    def _replica_key(settings: Settings) -> tuple[str, dict[str, dict[str, object]]] | None:
        """The replica key as an IAM resource: its ARN when known, else any key of the replica's
        region that carries the replica's alias (its ID is chosen by KMS in the other stack)."""
        if not settings.archive_kms_key:
            return None
        known = replica_key_arn(settings)
        if known:
            return known, {}
        any_key = f"arn:{Aws.PARTITION}:kms:{settings.replica_region}:{Aws.ACCOUNT_ID}:key/*"
        return any_key, {"ForAnyValue:StringEquals": {"kms:ResourceAliases": replica_key_alias(settings)}}
