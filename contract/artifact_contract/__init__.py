"""The contract between the artifact-backup client and the filer.

One source of truth, imported by both sides: artifact types and their extension filters, the run
timestamp format, project keys and paths, the archive and staging key layout, and the schemas of the
manifest, receipt and run record. It depends on the standard library only, so the filer's Lambda
image carries it without any of the client's dependencies.
"""

from .artifact_types import (
    ARTIFACT_TYPES,
    DEFAULT_ARTIFACT_TYPES,
    ArtifactType,
    get_artifact_type,
)
from .exceptions import (
    ArtifactTypeUnknownError,
    ContractError,
    ManifestInvalidError,
    PathInvalidError,
    ProjectKeyInvalidError,
    ReceiptInvalidError,
    RunIdInvalidError,
    TimestampInvalidError,
)
from .layout import (
    INCOMING_PREFIX,
    MANIFEST_NAME,
    QUARANTINE_PREFIX,
    RECEIPTS_PREFIX,
    ManifestLocation,
    archive_key,
    archive_prefix,
    blob_piece_id,
    claim_key,
    is_sha256_hex,
    manifest_key,
    pack_piece_id,
    parse_manifest_key,
    piece_key,
    quarantine_key,
    receipt_key,
    run_record_key,
    runs_prefix,
    staging_run_prefix,
    validate_project_key,
    validate_relative_path,
    validate_run_id,
)
from .manifest import (
    MANIFEST_SCHEMA,
    MANIFEST_VERSION,
    MAX_FILES,
    MAX_MANIFEST_BYTES,
    FileEntry,
    Manifest,
    Piece,
    build_manifest,
)
from .records import (
    CLAIM_SCHEMA,
    META_ARTIFACT_TYPE,
    META_PROJECT_KEY,
    META_RUN_ID,
    META_SHA256,
    META_TIMESTAMP,
    RECEIPT_SCHEMA,
    RECORD_VERSION,
    RETENTION_PINNED,
    RETENTION_STANDARD,
    RUN_RECORD_SCHEMA,
    TAG_MANAGED,
    TAG_MANAGED_VALUE,
    TAG_RETENTION,
    Receipt,
    dumps_record,
)
from .timestamps import TIMESTAMP_FORMAT, format_timestamp, parse_timestamp, validate_timestamp

__all__ = [name for name in dir() if not name.startswith("_")]
