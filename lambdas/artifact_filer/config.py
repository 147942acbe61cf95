"""The filer's tuning, with defaults sized for a Lambda function of about 1 GiB of memory, and the
environment the function reads it from (:func:`filer_environment`).

Standard library and ``artifact_contract`` only: the CDK app imports this module to set the
function's environment, and must not need the filer's runtime dependencies to do so.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields

from artifact_contract import MAX_FILES, MAX_PACKED_FILE_BYTES
from artifact_contract.reuse import DEFAULT_REUSE_MAX_AGE_DAYS

from .exceptions import DEFAULT_MAX_ERROR_CHARS, FilerConfigError

MiB = 1024 * 1024
GiB = 1024 * MiB

DEFAULT_MAX_EXTENDED_HEADER_BYTES = 64 * 1024

#: Called with a step name after every step that touches S3; raising from it stops the filer there,
#: which is how fault-injection tests kill it mid-way.
StepHook = Callable[[str], None]

#: Environment variables that override :class:`FilerConfig` fields (all optional).
ENV_TUNING: Mapping[str, str] = {
    "FILER_CONCURRENCY": "concurrency",
    "FILER_MAX_IN_FLIGHT_BYTES": "max_in_flight_bytes",
    "FILER_MAX_PACKED_FILE_BYTES": "max_packed_file_bytes",
    "FILER_MULTIPART_COPY_THRESHOLD_BYTES": "multipart_copy_threshold_bytes",
    "FILER_MULTIPART_COPY_CHUNK_BYTES": "multipart_copy_chunk_bytes",
    "FILER_MAX_ATTEMPTS": "max_attempts",
    "FILER_REUSE_MAX_AGE_DAYS": "reuse_max_age_days",
    "FILER_STOP_MARGIN_MS": "stop_margin_ms",
    "FILER_CHECKPOINT_SECONDS": "checkpoint_seconds",
    "FILER_CLAIM_STALE_SECONDS": "claim_stale_seconds",
    "FILER_MAX_EXTENDED_HEADER_BYTES": "max_extended_header_bytes",
    "FILER_MAX_MANIFEST_PIECES": "max_manifest_pieces",
    "FILER_MAX_ERROR_CHARS": "max_error_chars",
}
#: Environment variables that choose among named options: variable -> (field, choices).
ENV_CHOICES: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "FILER_PUT_CLIENT": ("put_client", ("crt", "botocore")),
}


@dataclass(frozen=True)
class FilerConfig:
    """How hard the filer works; every size is in bytes."""

    #: Parallel S3 requests (puts, copies, deletes); also sizes botocore's connection pool.
    concurrency: int = 64
    #: Packed files held in memory at once while waiting for their put (at most twice
    #: ``concurrency`` of them, too); bounds memory use.
    max_in_flight_bytes: int = 128 * MiB
    #: A packed file larger than this is refused: the filer holds each packed file in memory once.
    #: The contract's limit, which the client's pack threshold may not exceed.
    max_packed_file_bytes: int = MAX_PACKED_FILE_BYTES
    #: Blobs up to this size are copied by one CopyObject (full-object SHA-256 checksum); larger
    #: ones by s3transfer's multipart copy (CopyObject cannot exceed 5 GiB).
    multipart_copy_threshold_bytes: int = 1 * GiB
    multipart_copy_chunk_bytes: int = 128 * MiB
    #: Read size when streaming a piece through its hash and the tar reader.
    read_chunk_bytes: int = 1 * MiB
    #: Overhead a pack may decompress to beyond its files' sizes: tar headers and padding.
    pack_overhead_per_member_bytes: int = 8 * 1024
    pack_overhead_bytes: int = 1 * MiB
    #: botocore attempts per request (``standard`` retry mode) before an error is transient.
    max_attempts: int = 8
    #: Days an archived large file stays offered for reuse in the project's reuse index. Keep it
    #: well below the archive's Glacier transition (90 days): a Glacier object cannot be copied.
    reuse_max_age_days: int = DEFAULT_REUSE_MAX_AGE_DAYS
    #: What sends the one put per packed file: ``crt``, the native S3 client (a quarter of
    #: botocore's CPU per put; botocore when awscrt is not installed), or ``botocore``.
    put_client: str = "crt"
    #: Time an invocation keeps back to let its units in flight finish (up to ``concurrency``
    #: requests and four pack readers, each ending its pack) and to hand the filing on: once less is
    #: left, it starts no more work and continues in a fresh invocation (``artifact_filer.progress``).
    stop_margin_ms: int = 120_000
    #: How often an invocation saves its progress while it files, so one that is killed at its
    #: timeout anyway loses no more than this much work.
    checkpoint_seconds: int = 60
    #: A claim on a timestamp's artifact type older than this, whose run has neither a record nor a
    #: manifest in staging, may be taken over by another run (docs/protocol.md, step 6). Well above
    #: an invocation's 15 minutes, so no invocation of the abandoned run is still writing.
    claim_stale_seconds: int = 3600
    #: Bytes of extended tar headers (PAX records, GNU long names) one packed file may carry. A
    #: path is at most S3's 1,024-byte key; anything far beyond is an attempt on the filer's memory.
    max_extended_header_bytes: int = DEFAULT_MAX_EXTENDED_HEADER_BYTES
    #: Pieces one manifest may list (each carries at least one file, so the contract's file limit);
    #: the pieces are held in memory while a run is filed.
    max_manifest_pieces: int = MAX_FILES
    #: Characters of error text a receipt or a log line carries; the rest is cut, saying how much.
    max_error_chars: int = DEFAULT_MAX_ERROR_CHARS
    on_step: StepHook | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int) and not isinstance(value, bool) and value <= 0:
                raise FilerConfigError(f"filer setting {f.name} must be positive, not {value}")
        for var, (name, choices) in ENV_CHOICES.items():
            value = getattr(self, name)
            if value not in choices:
                raise FilerConfigError(f"{var} must be one of {', '.join(choices)}, not {value!r}")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> FilerConfig:
        """Defaults, then the ``FILER_*`` variables that are set, then explicit overrides."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for var, name in ENV_TUNING.items():
            raw = environ.get(var)
            if raw is None or raw == "":
                continue
            try:
                values[name] = int(raw)
            except ValueError:
                raise FilerConfigError(f"{var}={raw!r} is not a whole number") from None
        for var, (name, _) in ENV_CHOICES.items():
            if environ.get(var):
                values[name] = environ[var]
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


#: The function's required variables: the staging bucket it files from and the archive it files into.
STAGING_BUCKET_VAR = "STAGING_BUCKET"
ARCHIVE_BUCKET_VAR = "ARCHIVE_BUCKET"
#: The filing queue, where a filing too long for one invocation sends its continuation.
QUEUE_URL_VAR = "FILER_QUEUE_URL"
#: The service name powertools logs under (``POWERTOOLS_SERVICE_NAME``).
SERVICE_NAME = "artifact-filer"


def filer_environment(
    *,
    staging_bucket: str,
    archive_bucket: str,
    queue_url: str | None = None,
    log_level: str = "INFO",
    metrics_namespace: str | None = None,
    **tuning: int | str,
) -> dict[str, str]:
    """The filer function's environment: what ``handler.build_filer`` and powertools read.

    ``tuning`` is by :class:`FilerConfig` field name (``reuse_max_age_days=60`` sets
    ``FILER_REUSE_MAX_AGE_DAYS``, ``put_client="botocore"`` sets ``FILER_PUT_CLIENT``); only what is
    given is set, the rest keeps its default. ``queue_url`` is the filing queue's: without it a
    filing that outlasts its invocation fails its message (progress saved) rather than continuing.
    The CDK
    construct and the local stack both build the function's environment here, so this module must
    stay importable with the standard library and ``artifact_contract`` alone.
    """
    variables = {
        STAGING_BUCKET_VAR: staging_bucket,
        ARCHIVE_BUCKET_VAR: archive_bucket,
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_LOG_LEVEL": log_level,
        "POWERTOOLS_LOGGER_LOG_EVENT": "false",
    }
    if queue_url is not None:
        variables[QUEUE_URL_VAR] = queue_url
    if metrics_namespace is not None:
        variables["POWERTOOLS_METRICS_NAMESPACE"] = metrics_namespace
    by_field = {name: var for var, name in ENV_TUNING.items()}
    by_field.update((name, var) for var, (name, _) in ENV_CHOICES.items())
    for name, value in tuning.items():
        if name not in by_field:
            raise FilerConfigError(f"{name} is not a filer setting read from the environment")
        variables[by_field[name]] = str(value)
    return variables
