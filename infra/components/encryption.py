"""The archive's KMS key: S3-managed (none), a key this stack creates, or one named by ARN.

A key the stack creates gets a key policy that grants by use, not by role: the account may administer
the key but not encrypt or decrypt with it; the filer may encrypt and decrypt, readers (identities
whose IAM policy allows it, i.e. the reader policy) may decrypt, and replication may read with it;
every use only through S3 and only for the archive bucket. A key named by ARN keeps its own policy,
which must let the account's IAM policies grant its use (the default key policy does).
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from ..settings import Settings

#: What the account's administrators may do with the key: manage it, never use it.
ADMIN_ACTIONS = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
]
#: S3 asks for a data key when it writes an object (once per bucket key with Bucket Keys on).
ENCRYPT_ACTIONS = ["kms:GenerateDataKey"]
DECRYPT_ACTIONS = ["kms:Decrypt"]


def s3_use_conditions(bucket_arn: str | None, region: str = Aws.REGION) -> dict[str, dict[str, object]]:
    """Use of a key only by S3 in ``region`` and, when ``bucket_arn`` is given, only for that bucket
    (the bucket's ARN is the encryption context with Bucket Keys on; an object's ARN before)."""
    conditions: dict[str, dict[str, object]] = {
        "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}
    }
    if bucket_arn:
        conditions["StringLike"] = {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/*"]}
    return conditions


def named_bucket_arn(name: str) -> str | None:
    """A bucket's ARN from its name, for a key policy: the key cannot refer to the bucket resource
    it encrypts (each would wait for the other), so a bucket named by CloudFormation is not named."""
    return f"arn:{Aws.PARTITION}:s3:::{name}" if name else None


def new_bucket_key(scope: Construct, construct_id: str, *, description: str) -> kms.Key:
    """A customer-managed key with yearly rotation and only the administration statement; uses are
    added by :func:`allow_use` for each principal that needs them."""
    return kms.Key(
        scope,
        construct_id,
        description=description,
        enable_key_rotation=True,
        rotation_period=Duration.days(365),
        # The archive outlives the stack; so must the key its objects are encrypted with.
        removal_policy=RemovalPolicy.RETAIN,
        policy=iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="AccountAdministersTheKeyButCannotUseIt",
                    principals=[iam.AccountRootPrincipal()],
                    actions=ADMIN_ACTIONS,
                    resources=["*"],
                )
            ]
        ),
    )


def allow_use(
    key: kms.IKey,
    sid: str,
    principal: iam.IPrincipal,
    actions: list[str],
    bucket_arn: str | None,
    *,
    region: str = Aws.REGION,
    conditions: dict[str, dict[str, object]] | None = None,
) -> None:
    """Add one use to a created key's policy (an imported key's policy is not the stack's)."""
    merged = s3_use_conditions(bucket_arn, region)
    for operator, values in (conditions or {}).items():
        merged.setdefault(operator, {}).update(values)
    key.add_to_resource_policy(
        iam.PolicyStatement(sid=sid, principals=[principal], actions=actions, resources=["*"],
                            conditions=merged)
    )


class ArchiveKey(Construct):
    """``key`` encrypts the archive (None: S3-managed keys); ``created`` says whether its policy is
    the stack's to write."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)
        self.key: kms.IKey | None = None
        self.created = settings.creates_kms_key
        self._policy_bucket_arn = named_bucket_arn(settings.archive_bucket_name)
        if self.created:
            self.key = new_bucket_key(self, "Key", description="artifact-backup archive objects")
        elif settings.archive_kms_key:
            self.key = kms.Key.from_key_arn(self, "Key", settings.archive_kms_key)

    def allow_filer(self, role: iam.IRole, bucket_arn: str) -> None:
        """Write (a data key) and read back (decrypt) archive objects."""
        self._grant("FilerEncryptsAndDecryptsArchiveObjects", role, ENCRYPT_ACTIONS + DECRYPT_ACTIONS,
                    bucket_arn)

    def allow_readers(self, policy: iam.ManagedPolicy, bucket_arn: str) -> None:
        """Readers decrypt what they download, and a pin note they write needs a data key."""
        if self.key is None:
            return
        policy.add_statements(
            iam.PolicyStatement(
                sid="DecryptArchiveObjects",
                actions=DECRYPT_ACTIONS + ENCRYPT_ACTIONS,
                resources=[self.key.key_arn],
                conditions=s3_use_conditions(bucket_arn),
            )
        )
        if self.created:
            allow_use(self.key, "ReadersDecryptArchiveObjects", iam.AccountRootPrincipal(),
                      DECRYPT_ACTIONS + ENCRYPT_ACTIONS, self._policy_bucket_arn)

    def allow_replication(self, role: iam.IRole, bucket_arn: str) -> None:
        """Replication reads the archive's objects to copy them."""
        self._grant("ReplicationDecryptsArchiveObjects", role, DECRYPT_ACTIONS, bucket_arn)

    def _grant(self, sid: str, role: iam.IRole, actions: list[str], bucket_arn: str) -> None:
        if self.key is None:
            return
        if self.created:
            # Named in the key policy, the role needs no IAM statement of its own.
            allow_use(self.key, sid, iam.ArnPrincipal(role.role_arn), actions, self._policy_bucket_arn)
            return
        role.add_to_principal_policy(
            iam.PolicyStatement(sid=sid, actions=actions, resources=[self.key.key_arn],
                                conditions=s3_use_conditions(bucket_arn))
        )
