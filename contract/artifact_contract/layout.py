"""Where everything lives: archive keys, staging keys, receipts, run records.

Archive layout (the user guide's)::

    {project_key}/{artifact_type}/{YYYYMMDD_HHMM}/{relative path}   timestamped run
    {project_key}/{artifact_type}/{relative path}                   untimestamped upload
    {project_key}/_runs/{YYYYMMDD_HHMM}/claims/{artifact_type}.json one type of a timestamp, taken
    {project_key}/_runs/{YYYYMMDD_HHMM}/runs/{run_id}.json          record of one upload at it, last
    {project_key}/_runs/{YYYYMMDD_HHMM}/claim.json                  (older filers) the whole timestamp
    {project_key}/_runs/{YYYYMMDD_HHMM}/run.json                    (older filers) its one run record
    {project_key}/_runs/untimestamped/{run_id}.json                 record of an untimestamped upload

Staging layout::

    incoming/{project_key}/{run_id}/packs/{sha256}.tar.gz   many small files, packed
    incoming/{project_key}/{run_id}/blobs/{sha256}          one large file, named by its content
    incoming/{project_key}/{run_id}/blobs/{slot}            or by its name (sent while being hashed)
    incoming/{project_key}/{run_id}/manifest.json           the commit: written last
    receipts/{project_key}/{run_id}.json                    the filer's answer
    quarantine/{project_key}/{run_id}/...                   what a refused run sent, kept for inspection
    index/{project_key}/reuse.json                          large files the archive holds (reuse.py)

Every validator here is the one gate both sides use, so nothing built from a manifest can leave its
``{project_key}/{artifact_type}/`` prefix.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass

from .artifact_types import get_artifact_type
from .exceptions import (
    ContractError,
    PathInvalidError,
    PathReservedError,
    ProjectKeyInvalidError,
    RunIdInvalidError,
)
from .timestamps import is_timestamp_form, validate_timestamp

INCOMING_PREFIX = "incoming/"
RECEIPTS_PREFIX = "receipts/"
QUARANTINE_PREFIX = "quarantine/"
INDEX_PREFIX = "index/"
#: The filer's own notes on a filing that continues in another invocation; only the filer writes here.
PROGRESS_PREFIX = "progress/"
MANIFEST_NAME = "manifest.json"
#: The principal tag naming a project an uploading identity may upload (its staging prefixes); one
#: value per tag, so further projects go in ``artifact-backup-project-2``, ``-3``, ... (docs/deploy.md).
PROJECT_TAG = "artifact-backup-project"
RUNS_FOLDER = "_runs"
#: A pinned run's note, beside its run record: written by readers, the one archive key they may write.
PIN_NOTE_NAME = "pin.json"
RUN_RECORD_NAME = "run.json"
CLAIM_NAME = "claim.json"
UNTIMESTAMPED_FOLDER = "untimestamped"
#: Under a timestamp's ``_runs/{ts}/``: one claim per artifact type, one record per upload.
CLAIMS_FOLDER = "claims"
RECORDS_FOLDER = "runs"

#: S3 allows 1024 bytes of key; keep room for the prefix the archive adds.
MAX_KEY_BYTES = 1024
MAX_PROJECT_KEY_LENGTH = 128
_RUN_ID_RE = re.compile(r"[0-9a-f]{32}")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


def _has_control(value: str) -> bool:
    # Every path of a run passes here several times; plain ASCII, nearly all of them, is decided in
    # one C call (its only control characters are the non-printable Cc ones).
    if value.isascii():
        return not value.isprintable()
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in value)


def validate_project_key(key: str) -> str:
    """Check a project key can be one folder level of the archive and return it."""
    if not isinstance(key, str) or not key:
        raise ProjectKeyInvalidError("project key is empty: pass --project-key, e.g. RMI25320")
    problem = None
    if "/" in key or "\\" in key:
        problem = "contains a slash"
    elif key in (".", "..") or ".." in key:
        problem = "contains '..'"
    elif _has_control(key):
        problem = "contains control characters"
    elif key != key.strip():
        problem = "starts or ends with white space"
    elif key.startswith("_"):
        problem = "starts with '_', which is reserved for the archive's own records"
    elif len(key) > MAX_PROJECT_KEY_LENGTH:
        problem = f"is longer than {MAX_PROJECT_KEY_LENGTH} characters"
    if problem:
        raise ProjectKeyInvalidError(
            f"project key {key!r} {problem}: use a plain name such as RMI25320"
        )
    return key


def validate_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not _RUN_ID_RE.fullmatch(run_id):
        raise RunIdInvalidError(f"run id {run_id!r} is not 32 lowercase hexadecimal characters")
    return run_id


def is_run_id(value: object) -> bool:
    return isinstance(value, str) and bool(_RUN_ID_RE.fullmatch(value))


def is_sha256_hex(value: object) -> bool:
    return isinstance(value, str) and bool(_SHA256_RE.fullmatch(value))


def validate_relative_path(path: str) -> str:
    """Check a file's path relative to its artifact type folder and return it.

    Refuses anything that could escape the prefix or mean different things on different systems:
    absolute paths, drive letters, backslashes, ``.``/``..`` segments, empty segments, control
    characters, and names that are not valid UTF-8 text.
    """
    if not isinstance(path, str) or not path:
        raise PathInvalidError("empty file path")
    if "\\" in path:
        raise PathInvalidError(f"path {path!r} contains a backslash: use '/' between folders")
    if path.startswith("/"):
        raise PathInvalidError(f"path {path!r} is absolute: paths must be relative to the folder")
    if _DRIVE_RE.match(path):
        raise PathInvalidError(f"path {path!r} starts with a drive letter")
    if _has_control(path):
        raise PathInvalidError(f"path {path!r} contains control characters")
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        raise PathInvalidError(f"path {path!r} is not valid UTF-8 text") from None
    if len(encoded) > MAX_KEY_BYTES - 200:
        raise PathInvalidError(f"path {path[:60]!r}... is too long for an S3 key")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise PathInvalidError(
                f"path {path!r} has an empty, '.' or '..' segment: it could leave its folder"
            )
    return path


def check_untimestamped_path(project_key: str, artifact_type: str, path: str) -> str:
    """Refuse an untimestamped file whose key would lie in a timestamped run's folder (its first
    folder looks like ``YYYYMMDD_HHMM``) or under the archive's records (``_runs/``): an upload
    without a timestamp writes its keys unconditionally, so it must never reach another run's."""
    first = path.split("/", 1)[0]
    if "/" in path and is_timestamp_form(first):
        raise PathReservedError(
            f"{artifact_type}/{path}: its first folder {first!r} has the form of a run timestamp, so "
            f"without a timestamp it would be filed inside the timestamped run {first}: upload it with "
            f"a timestamp (--timestamp or --custom-timestamp), or rename the folder {first!r}"
        )
    key = f"{project_key}/{artifact_type}/{path}"
    if key.startswith(f"{project_key}/{RUNS_FOLDER}/"):
        raise PathReservedError(f"{artifact_type}/{path} would be filed under {RUNS_FOLDER}/, the "
                                "archive's own records: rename it")
    return path


@functools.lru_cache(maxsize=256)
def archive_prefix(project_key: str, artifact_type: str, timestamp: str | None) -> str:
    """The folder a run's files of one type are filed under, ending in ``/``.

    Cached: every file of a run asks for one of a few prefixes, and validating the timestamp
    (``strptime``) for each of them was a large part of building a run record.
    """
    validate_project_key(project_key)
    get_artifact_type(artifact_type)
    if timestamp is None:
        return f"{project_key}/{artifact_type}/"
    return f"{project_key}/{artifact_type}/{validate_timestamp(timestamp)}/"


def archive_key(project_key: str, artifact_type: str, timestamp: str | None, path: str) -> str:
    """The file's archive key; refused when it would exceed S3's key length (a project key may be
    128 non-ASCII characters, up to 512 bytes, so the path's own limit is not enough)."""
    key = archive_prefix(project_key, artifact_type, timestamp) + validate_relative_path(path)
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise PathInvalidError(
            f"path {path[:60]!r}... is too long: its archive key would exceed {MAX_KEY_BYTES} bytes"
        )
    return key


def runs_prefix(project_key: str) -> str:
    return f"{validate_project_key(project_key)}/{RUNS_FOLDER}/"


def claim_key(project_key: str, timestamp: str) -> str:
    """Where an older filer claimed a whole timestamp for one run; still read, never written."""
    return f"{runs_prefix(project_key)}{validate_timestamp(timestamp)}/{CLAIM_NAME}"


def type_claim_key(project_key: str, timestamp: str, artifact_type: str) -> str:
    """Where one artifact type of a timestamp is claimed by the upload that files it."""
    get_artifact_type(artifact_type)
    return f"{timestamp_runs_prefix(project_key, timestamp)}{CLAIMS_FOLDER}/{artifact_type}.json"


def timestamp_runs_prefix(project_key: str, timestamp: str) -> str:
    """The folder of a timestamp's claims and records, ending in ``/``."""
    return f"{runs_prefix(project_key)}{validate_timestamp(timestamp)}/"


def legacy_run_record_key(project_key: str, timestamp: str) -> str:
    """The one record of a timestamp written by an older filer; still read, never written."""
    return f"{timestamp_runs_prefix(project_key, timestamp)}{RUN_RECORD_NAME}"


def run_record_key(project_key: str, timestamp: str | None, run_id: str) -> str:
    """Where the record of the upload ``run_id`` is written; several uploads of disjoint artifact
    types may share a timestamp, each with its own record."""
    if timestamp is None:
        return f"{runs_prefix(project_key)}{UNTIMESTAMPED_FOLDER}/{validate_run_id(run_id)}.json"
    return f"{timestamp_runs_prefix(project_key, timestamp)}{RECORDS_FOLDER}/{validate_run_id(run_id)}.json"


def pin_note_key(project_key: str, timestamp: str | None, run_id: str) -> str:
    """Where a run's pin note lives: beside its record, outside every artifact folder."""
    if timestamp is None:
        return f"{runs_prefix(project_key)}{UNTIMESTAMPED_FOLDER}/{validate_run_id(run_id)}/{PIN_NOTE_NAME}"
    return f"{runs_prefix(project_key)}{validate_timestamp(timestamp)}/{PIN_NOTE_NAME}"


@dataclass(frozen=True)
class RunsKey:
    """What a key under ``{project}/_runs/`` is: a run record, a claim or a pin note, and whose.

    ``timestamp`` names a timestamped run; ``run_id`` an untimestamped one (whose keys hold it).
    """

    kind: str  # "record", "claim" or "pin"
    timestamp: str | None
    run_id: str | None


_RUNS_NAMES = {RUN_RECORD_NAME: "record", CLAIM_NAME: "claim", PIN_NOTE_NAME: "pin"}


def parse_runs_key(project_key: str, key: str) -> RunsKey | None:
    """The inverse of :func:`run_record_key`, :func:`claim_key` and :func:`pin_note_key`; None for
    any other key, so a reader listing ``_runs/`` never mistakes a stray object for a run."""
    prefix = runs_prefix(project_key)
    if not key.startswith(prefix):
        return None
    parts = key[len(prefix):].split("/")
    if len(parts) == 3 and parts[0] != UNTIMESTAMPED_FOLDER:
        return _parse_timestamp_member(parts)
    if len(parts) == 2 and parts[0] != UNTIMESTAMPED_FOLDER:
        kind = _RUNS_NAMES.get(parts[1])
        try:
            return RunsKey(kind, validate_timestamp(parts[0]), None) if kind else None
        except ContractError:
            return None
    if parts[0] != UNTIMESTAMPED_FOLDER:
        return None
    if len(parts) == 2 and parts[1].endswith(".json") and _RUN_ID_RE.fullmatch(parts[1][:-5]):
        return RunsKey("record", None, parts[1][:-5])
    if len(parts) == 3 and parts[2] == PIN_NOTE_NAME and _RUN_ID_RE.fullmatch(parts[1]):
        return RunsKey("pin", None, parts[1])
    return None


def _parse_timestamp_member(parts: list[str]) -> RunsKey | None:
    """``{ts}/runs/{run_id}.json`` (a record) or ``{ts}/claims/{type}.json`` (a claim)."""
    ts, folder, name = parts
    try:
        validate_timestamp(ts)
    except ContractError:
        return None
    if not name.endswith(".json"):
        return None
    if folder == RECORDS_FOLDER and _RUN_ID_RE.fullmatch(name[:-5]):
        return RunsKey("record", ts, name[:-5])
    if folder == CLAIMS_FOLDER:
        try:
            get_artifact_type(name[:-5])
        except ContractError:
            return None
        return RunsKey("claim", ts, None)
    return None


def staging_run_prefix(project_key: str, run_id: str) -> str:
    return f"{INCOMING_PREFIX}{validate_project_key(project_key)}/{validate_run_id(run_id)}/"


def manifest_key(project_key: str, run_id: str) -> str:
    return staging_run_prefix(project_key, run_id) + MANIFEST_NAME


def pack_piece_id(sha256: str) -> str:
    return f"packs/{sha256}.tar.gz"


def blob_piece_id(sha256: str) -> str:
    """A blob named by its content: what a file hashed before it is sent travels under."""
    return f"blobs/{sha256}"


def blob_slot_id(member_name: str) -> str:
    """A blob named by the file it carries (``{type}/{path}``), known before a byte is read.

    A large file is sent while it is being hashed (the hash is then the manifest's, not the key's),
    so its key cannot be its content's. The name's SHA-256 keeps the key short, fixed-length and
    the same for every attempt of a run, so a resumed upload finds what it already sent.
    """
    return "blobs/" + hashlib.sha256(member_name.encode("utf-8", "surrogateescape")).hexdigest()


def is_blob_id(piece_id: str) -> bool:
    """Whether ``piece_id`` has the shape of either kind of blob id."""
    return piece_id.startswith("blobs/") and bool(_SHA256_RE.fullmatch(piece_id, 6))


def piece_key(project_key: str, run_id: str, piece_id: str) -> str:
    return staging_run_prefix(project_key, run_id) + piece_id


def receipt_key(project_key: str, run_id: str) -> str:
    return f"{RECEIPTS_PREFIX}{validate_project_key(project_key)}/{validate_run_id(run_id)}.json"


def reuse_index_key(project_key: str) -> str:
    """The project's reuse index in staging: written by the filer, read by the uploader."""
    return f"{INDEX_PREFIX}{validate_project_key(project_key)}/reuse.json"


def progress_key(project_key: str, run_id: str) -> str:
    """Where the filer keeps what it has verified and filed of a run too large for one invocation.

    Outside ``incoming/``, which the uploader may write: the filer trusts what it finds here.
    """
    return f"{PROGRESS_PREFIX}{validate_project_key(project_key)}/{validate_run_id(run_id)}.json"


def quarantine_key(staging_key: str) -> str:
    """Where a refused run's staging object is moved, keeping its path for inspection."""
    if not staging_key.startswith(INCOMING_PREFIX):
        raise PathInvalidError(f"{staging_key!r} is not a staging key")
    return QUARANTINE_PREFIX + staging_key[len(INCOMING_PREFIX):]


@dataclass(frozen=True)
class ManifestLocation:
    """The run a manifest key names, before the manifest itself is trusted."""

    project_key: str
    run_id: str


def parse_manifest_key(key: str) -> ManifestLocation | None:
    """Return the run a staging key's manifest belongs to, or None when it is not a manifest key.

    The key must already be URL-decoded (S3 event notifications encode it). A key shaped like a
    manifest's whose parts break the layout raises, so that it is refused rather than ignored.
    """
    if not key.startswith(INCOMING_PREFIX) or not key.endswith("/" + MANIFEST_NAME):
        return None
    parts = key[len(INCOMING_PREFIX):].split("/")
    if len(parts) != 3:
        raise PathInvalidError(
            f"manifest key {key!r} is not incoming/{{project_key}}/{{run_id}}/{MANIFEST_NAME}"
        )
    project_key, run_id, _ = parts
    return ManifestLocation(validate_project_key(project_key), validate_run_id(run_id))
