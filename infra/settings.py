"""Every deploy-time choice, read from the CDK context with a documented default.

The defaults live here (and are repeated in ``cdk.json`` so a user sees them where they edit them); a
value given with ``cdk deploy -c key=value`` arrives as a string, so each one is parsed and checked
before any resource is built: a typo should fail the synth, not produce a stack with a zero-day expiry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from constructs import Construct

#: Storage classes a lifecycle transition may target, as S3's API spells them.
TRANSITION_STORAGE_CLASSES = (
    "GLACIER",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
)
_BUCKET_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
#: Retention periods CloudWatch Logs accepts.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
OBJECT_LOCK_MODES = ("", "GOVERNANCE", "COMPLIANCE")
#: ``accessLogs``: server access logs in a log bucket; ``cloudtrail``: a trail of the data events.
AUDIT_TRAILS = ("accessLogs", "cloudtrail")
#: ``create``: a new customer-managed key; empty: S3-managed keys; otherwise a key ARN.
KMS_CREATE = "create"
_KMS_KEY_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f-]{36})$")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
#: Object Lock's default retention, in days: S3 accepts at most 100 years.
MAX_RETENTION_DAYS = 36500


class SettingsError(ValueError):
    """A context value that would deploy something other than what the user meant."""


@dataclass(frozen=True)
class Settings:
    """The context keys (camelCase in ``cdk.json``) and their defaults."""

    stack_name: str = "ArtifactBackup"
    #: Empty: CloudFormation generates a unique name.
    staging_bucket_name: str = ""
    #: Name of a new archive bucket; empty lets CloudFormation generate one.
    archive_bucket_name: str = ""
    #: Name of an existing bucket to use as the archive instead of creating one (e.g. rmi-360-raw).
    import_archive_bucket_name: str = ""
    glacier_transition_days: int = 90
    glacier_storage_class: str = "GLACIER"
    #: Days after which standard (not pinned) artifacts expire; 0 keeps them for ever.
    archive_expiration_days: int = 0
    #: Days a replaced (noncurrent) version of a standard artifact is kept; 0 keeps them for ever.
    #: An earlier upload without a timestamp lives on as such versions, named by its run record, so
    #: expiring them is something a user opts into.
    noncurrent_version_expiration_days: int = 0
    archive_abort_incomplete_upload_days: int = 7
    staging_expiration_days: int = 5
    quarantine_expiration_days: int = 30
    staging_abort_incomplete_upload_days: int = 1
    filer_memory_mb: int = 2048
    filer_timeout_minutes: int = 15
    filer_batch_size: int = 1
    #: Most concurrent filer invocations the queue drives; 0 leaves it to Lambda's account limit.
    filer_max_concurrency: int = 5
    filer_architecture: str = "x86_64"
    dlq_max_receive_count: int = 3
    log_retention_days: int = 30
    #: Empty: no SNS topic; alarms are still created and visible in CloudWatch.
    alarm_email: str = ""
    oldest_message_age_alarm_minutes: int = 60
    #: Empty: no Object Lock; GOVERNANCE or COMPLIANCE: a new archive is created with Object Lock.
    object_lock_mode: str = ""
    #: Default retention of every new archive object under Object Lock.
    object_lock_retention_days: int = 365
    #: Empty: no replica; a region name: a replica bucket there, fed by S3 replication.
    replica_region: str = ""
    #: Empty: ``{stack}-replica-{account}-{region}``.
    replica_bucket_name: str = ""
    #: Empty: S3-managed keys; ``create``: a new customer-managed key with rotation; or a key ARN.
    archive_kms_key: str = ""
    audit_trail: str = "accessLogs"
    #: Days the server access logs (or the trail's files) are kept in the log bucket.
    audit_log_retention_days: int = 365

    @property
    def imports_archive(self) -> bool:
        return bool(self.import_archive_bucket_name)

    @property
    def object_lock(self) -> bool:
        return bool(self.object_lock_mode)

    @property
    def creates_kms_key(self) -> bool:
        return self.archive_kms_key == KMS_CREATE

    @classmethod
    def context_keys(cls) -> dict[str, str]:
        """Field name to context key: ``glacier_transition_days`` -> ``glacierTransitionDays``."""
        return {f.name: _camel(f.name) for f in fields(cls)}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The defaults keyed as in ``cdk.json``, so the file can be checked against the code."""
        default = cls()
        return {key: getattr(default, name) for name, key in cls.context_keys().items()}

    @classmethod
    def from_context(cls, scope: Construct) -> Settings:
        values = {}
        for name, key in cls.context_keys().items():
            value = scope.node.try_get_context(key)
            if value is not None:
                values[name] = value
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        parsed: dict[str, Any] = {}
        types = {f.name: f.type for f in fields(cls)}
        for name, value in values.items():
            if name not in types:
                raise SettingsError(f"unknown setting {name!r}")
            parsed[name] = _parse_int(name, value) if types[name] == "int" else str(value).strip()
        settings = cls(**parsed)
        settings.validate()
        return settings

    def validate(self) -> None:
        keys = self.context_keys()
        for name in ("staging_bucket_name", "archive_bucket_name", "import_archive_bucket_name"):
            value = getattr(self, name)
            if value and not _BUCKET_NAME_RE.fullmatch(value):
                raise SettingsError(f"{keys[name]}={value!r} is not a valid S3 bucket name")
        if self.archive_bucket_name and self.import_archive_bucket_name:
            raise SettingsError(
                "set archiveBucketName (create a bucket) or importArchiveBucketName (use an existing "
                "one), not both"
            )
        if self.glacier_storage_class not in TRANSITION_STORAGE_CLASSES:
            raise SettingsError(
                f"glacierStorageClass={self.glacier_storage_class!r}: choose one of "
                + ", ".join(TRANSITION_STORAGE_CLASSES)
            )
        minimum_days = 30 if self.glacier_storage_class in ("STANDARD_IA", "ONEZONE_IA") else 1
        if self.glacier_transition_days < minimum_days:
            raise SettingsError(
                f"glacierTransitionDays must be at least {minimum_days} for {self.glacier_storage_class}"
            )
        if self.archive_expiration_days and self.archive_expiration_days <= self.glacier_transition_days:
            raise SettingsError(
                "archiveExpirationDays must be 0 (keep for ever) or more than glacierTransitionDays"
            )
        positive = (
            "staging_expiration_days",
            "quarantine_expiration_days",
            "staging_abort_incomplete_upload_days",
            "dlq_max_receive_count",
            "oldest_message_age_alarm_minutes",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise SettingsError(f"{keys[name]} must be at least 1")
        for name in ("archive_expiration_days", "noncurrent_version_expiration_days",
                     "archive_abort_incomplete_upload_days"):
            if getattr(self, name) < 0:
                raise SettingsError(f"{keys[name]} must be 0 (off) or more")
        if not 128 <= self.filer_memory_mb <= 10240:
            raise SettingsError("filerMemoryMb must be between 128 and 10240")
        if not 1 <= self.filer_timeout_minutes <= 15:
            raise SettingsError("filerTimeoutMinutes must be between 1 and 15")
        if not 1 <= self.filer_batch_size <= 10:
            raise SettingsError("filerBatchSize must be between 1 and 10")
        if self.filer_max_concurrency == 1 or not 0 <= self.filer_max_concurrency <= 1000:
            raise SettingsError("filerMaxConcurrency must be 0 (no limit) or between 2 and 1000")
        if self.filer_architecture not in ("x86_64", "arm64"):
            raise SettingsError("filerArchitecture must be x86_64 or arm64")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise SettingsError("logRetentionDays must be one of " + ", ".join(map(str, LOG_RETENTION_DAYS)))
        if self.alarm_email and not _EMAIL_RE.fullmatch(self.alarm_email):
            raise SettingsError(f"alarmEmail={self.alarm_email!r} is not an e-mail address")
        self._validate_recovery()

    def _validate_recovery(self) -> None:
        """Object Lock, replica, key and audit trail: each refused with the way to what was meant."""
        if self.object_lock_mode not in OBJECT_LOCK_MODES:
            raise SettingsError(
                f"objectLockMode={self.object_lock_mode!r}: choose GOVERNANCE, COMPLIANCE or empty (off)"
            )
        if self.object_lock and self.imports_archive:
            raise SettingsError(
                "objectLockMode needs an archive bucket the stack creates: on an existing bucket Object "
                "Lock would cover every new object, also those other tools write, and can never be "
                "turned off. Leave importArchiveBucketName empty, or enable Object Lock on the bucket "
                "yourself (docs/deploy.md) and leave objectLockMode empty: pin and unpin detect it"
            )
        if not 1 <= self.object_lock_retention_days <= MAX_RETENTION_DAYS:
            raise SettingsError(f"objectLockRetentionDays must be between 1 and {MAX_RETENTION_DAYS}")
        if self.replica_region and not _REGION_RE.fullmatch(self.replica_region):
            raise SettingsError(f"replicaRegion={self.replica_region!r} is not an AWS region name")
        if self.replica_bucket_name:
            if not self.replica_region:
                raise SettingsError("replicaBucketName needs replicaRegion (where the replica lives)")
            if not _BUCKET_NAME_RE.fullmatch(self.replica_bucket_name):
                raise SettingsError(
                    f"replicaBucketName={self.replica_bucket_name!r} is not a valid S3 bucket name"
                )
            if self.replica_bucket_name in (self.archive_bucket_name, self.import_archive_bucket_name):
                raise SettingsError("replicaBucketName must differ from the archive bucket")
        key = self.archive_kms_key
        if key and key != KMS_CREATE:
            match = _KMS_KEY_ARN_RE.fullmatch(key)
            if not match:
                raise SettingsError(
                    f"archiveKmsKey={key!r}: give empty (S3-managed keys), 'create', or a key ARN "
                    "(arn:aws:kms:REGION:ACCOUNT:key/ID; an alias is not accepted)"
                )
        if self.imports_archive and (self.replica_region or key):
            raise SettingsError(
                "replicaRegion and archiveKmsKey need an archive bucket the stack creates: an existing "
                "bucket's replication and default encryption stay its owner's (docs/deploy.md shows "
                "how to set them up by hand)"
            )
        if self.audit_trail not in AUDIT_TRAILS:
            raise SettingsError(f"auditTrail={self.audit_trail!r}: choose " + " or ".join(AUDIT_TRAILS))
        if self.audit_log_retention_days < 1:
            raise SettingsError("auditLogRetentionDays must be at least 1")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _parse_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise SettingsError(f"{_camel(name)} must be a whole number, not {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{_camel(name)} must be a whole number, not {value!r}") from None
