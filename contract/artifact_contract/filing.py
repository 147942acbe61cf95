"""What the filer writes to the archive besides the artifacts: the claim and the run record, and the
codes a refused receipt carries.

The client reads these too (a refused receipt's ``code``, a run record when it lists runs), so their
shapes live here rather than in the filer. Both documents are serialised with :func:`dumps_record`
and hold nothing that changes between attempts, so re-filing the same run writes equal bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .checksums import is_crc64nvme_b64
from .exceptions import ContractError
from .layout import archive_prefix
from .manifest import FileEntry, Manifest
from .records import CLAIM_SCHEMA, RECORD_VERSION, RUN_RECORD_SCHEMA, dumps_record
from .spool import FileSpool


class RefusalCode:
    """The ``code`` of a refused receipt: stable strings a client can branch on."""

    #: The manifest is not valid JSON or breaks the contract.
    MANIFEST_INVALID = "manifest-invalid"
    #: The manifest names another project, run or archive bucket than its key and the filer.
    MANIFEST_MISMATCH = "manifest-mismatch"
    #: A piece listed by the manifest is not in staging.
    PIECE_MISSING = "piece-missing"
    #: A piece has the wrong size or SHA-256, or a pack is not a readable tar.gz.
    PIECE_CORRUPT = "piece-corrupt"
    #: A piece was replaced in staging after it was verified.
    PIECE_CHANGED = "piece-changed"
    #: A pack member is a link, device, directory or anything else but a regular file.
    MEMBER_FORBIDDEN = "member-forbidden"
    #: A pack member's name could leave its folder (``..``, absolute, ...).
    MEMBER_UNSAFE = "member-unsafe"
    #: A pack holds a member the manifest does not list for it.
    MEMBER_UNLISTED = "member-unlisted"
    #: A pack holds the same member twice.
    MEMBER_DUPLICATE = "member-duplicate"
    #: A pack lacks a member the manifest lists for it.
    MEMBER_MISSING = "member-missing"
    #: A pack member has another size or SHA-256 than the manifest declares.
    MEMBER_MISMATCH = "member-mismatch"
    #: A pack decompresses to more than its declared files (a decompression bomb).
    PACK_BOMB = "pack-bomb"
    #: A packed file is larger than the filer holds in memory; large files must travel as blobs.
    PACKED_FILE_TOO_LARGE = "packed-file-too-large"
    #: Another run already holds the timestamp for one of this run's artifact types.
    TIMESTAMP_TAKEN = "timestamp-taken"
    #: An untimestamped file's key would lie in a timestamped run's folder (its first folder has the
    #: form YYYYMMDD_HHMM) or under the archive's ``_runs/`` records.
    PATH_RESERVED = "path-reserved"
    #: An archive key of this run already holds an object another run wrote.
    ARCHIVE_CONFLICT = "archive-conflict"
    #: An untimestamped run would replace files in an archive bucket without versioning, which
    #: would lose the earlier runs' copies: enable versioning on the archive bucket.
    ARCHIVE_UNVERSIONED = "archive-unversioned"
    #: A file listed for reuse has no usable earlier copy in the archive (gone, changed, in Glacier):
    #: the client sends the run again with the file itself.
    REUSE_UNAVAILABLE = "reuse-unavailable"

    @classmethod
    def all(cls) -> frozenset[str]:
        return frozenset(v for k, v in vars(cls).items() if k.isupper() and isinstance(v, str))


class RecordInvalidError(ContractError):
    """A claim or run record in the archive cannot be read."""


def content_sha256(files: Iterable[FileEntry | RecordedFile]) -> str:
    """One digest of what a run holds: every file's type, path, size and SHA-256, in name order.

    Two runs with equal digests hold the same files byte for byte, whatever their run ids, pieces or
    upload dates: a run uploaded again unchanged is recognised by it as already filed. The claim
    carries it, so a filer meeting a taken timestamp can tell a repeat from a different run.
    """
    digest = hashlib.sha256()
    # A spool reads its files in name order from its index (SQLite compares the UTF-8 bytes, which
    # order as the code points do), so a large run is never sorted in memory.
    ordered = files.in_name_order() if isinstance(files, FileSpool) else sorted(
        files, key=lambda f: (f.type, f.path, f.size, f.sha256))
    for type_name, path, size, sha256 in ((f.type, f.path, f.size, f.sha256) for f in ordered):
        digest.update(json.dumps([type_name, path, size, sha256], ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _load(raw: bytes | str, schema: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordInvalidError(f"{schema} document is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != schema:
        raise RecordInvalidError(f"document is not a {schema} document")
    if not isinstance(data.get("run_id"), str):
        raise RecordInvalidError(f"{schema} document names no run")
    return data


@dataclass(frozen=True)
class Claim:
    """One artifact type of a timestamp taken by one run, ``{project}/_runs/{ts}/claims/{type}.json``
    (an older filer's ``{ts}/claim.json`` took the whole timestamp, and has no ``types``).

    Released (``released``) when its run is refused, so the timestamp's type can be used again.
    When it was written is the object's ``LastModified`` (the server's clock, and no field whose
    bytes would differ between two attempts of one run).
    """

    run_id: str
    project_key: str
    timestamp: str
    created_at: str
    #: :func:`content_sha256` of the claiming run's files; None in claims written before it existed.
    content_sha256: str | None = None
    #: Every artifact type of the claiming run; empty in an older filer's whole-timestamp claim.
    types: tuple[str, ...] = ()
    #: The run's claim was given back: it was refused, and the type may be claimed by another run.
    released: bool = False
    #: The run whose stale or released claim this one took over, if any.
    replaces: str | None = None

    @classmethod
    def for_manifest(cls, manifest: Manifest) -> Claim:
        if manifest.timestamp is None:
            raise ContractError("an untimestamped run claims no timestamp")
        return cls(manifest.run_id, manifest.project_key, manifest.timestamp, manifest.created_at,
                   content_sha256(manifest.files), tuple(sorted(manifest.types)))

    def to_dict(self) -> dict[str, Any]:
        data = {
            "schema": CLAIM_SCHEMA,
            "version": RECORD_VERSION,
            "run_id": self.run_id,
            "project_key": self.project_key,
            "timestamp": self.timestamp,
            "created_at": self.created_at,
        }
        if self.content_sha256 is not None:
            data["content_sha256"] = self.content_sha256
        if self.types:
            data["types"] = list(self.types)
        if self.released:
            data["released"] = True
        if self.replaces:
            data["replaces"] = self.replaces
        return data

    def to_json(self) -> bytes:
        return dumps_record(self.to_dict())

    @classmethod
    def from_json(cls, raw: bytes | str) -> Claim:
        data = _load(raw, CLAIM_SCHEMA)
        return cls(
            run_id=data["run_id"],
            project_key=str(data.get("project_key", "")),
            timestamp=str(data.get("timestamp", "")),
            created_at=str(data.get("created_at", "")),
            content_sha256=data["content_sha256"] if isinstance(data.get("content_sha256"), str) else None,
            types=tuple(t for t in data.get("types") or () if isinstance(t, str)),
            released=data.get("released") is True,
            replaces=data["replaces"] if isinstance(data.get("replaces"), str) else None,
        )


@dataclass(frozen=True)
class RecordedFile:
    """One filed file in a run record.

    ``version_id`` is the S3 version the filer wrote, recorded for untimestamped runs: their keys
    hold the latest copy, so a later run replaces the object and this run's copy lives on as that
    version. None in records written before it existed, and where the key is never replaced.
    """

    type: str
    path: str
    key: str
    size: int
    sha256: str
    version_id: str | None = None
    #: The CRC64NVME S3 holds for the object (:mod:`.checksums`): what ``verify`` compares by HEAD.
    #: None in records written before it existed, or from a client that sent none.
    crc64nvme: str | None = None
    #: The ETag S3 answered to the filer's write, once it had checked the object's checksum against
    #: this record: an object listed with this ETag is that very object, so ``verify`` settles it
    #: from a LIST. None where the filer did not see the write's answer (an earlier attempt's).
    etag: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "path": self.path,
            "key": self.key,
            "size": self.size,
            "sha256": self.sha256,
        }
        if self.version_id is not None:
            data["version_id"] = self.version_id
        if self.crc64nvme is not None:
            data["crc64nvme"] = self.crc64nvme
        if self.etag is not None:
            data["etag"] = self.etag
        return data

    def version_args(self) -> dict[str, str]:
        """``VersionId`` for a request that must read this run's copy, when the record names it."""
        return {"VersionId": self.version_id} if self.version_id else {}


@dataclass(frozen=True)
class RunRecord:
    """The list of what one run filed, written last: a run exists for readers once this exists."""

    run_id: str
    project_key: str
    timestamp: str | None
    archive_bucket: str
    created_at: str
    files: tuple[RecordedFile, ...]
    prefixes: tuple[str, ...] = ()
    uploader: Mapping[str, str] = field(default_factory=dict)
    config_sha256: str | None = None

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)

    @classmethod
    def for_manifest(cls, manifest: Manifest) -> RunRecord:
        """The record of a manifest filed as the layout says, sorted so its bytes never vary."""
        ts = manifest.timestamp
        files = tuple(RecordedFile(f.type, f.path, key, f.size, f.sha256, None, f.crc64nvme)
                      for f, key in manifest.files_in_key_order())
        prefixes = tuple(archive_prefix(manifest.project_key, t, ts) for t in manifest.types)
        return cls(
            run_id=manifest.run_id,
            project_key=manifest.project_key,
            timestamp=ts,
            archive_bucket=manifest.archive_bucket,
            created_at=manifest.created_at,
            files=files,
            prefixes=prefixes,
            uploader=dict(manifest.uploader),
            config_sha256=manifest.config_sha256,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": RUN_RECORD_SCHEMA,
            "version": RECORD_VERSION,
            "run_id": self.run_id,
            "project_key": self.project_key,
            "timestamp": self.timestamp,
            "archive_bucket": self.archive_bucket,
            "created_at": self.created_at,
            "uploader": dict(self.uploader),
            "config_sha256": self.config_sha256,
            "prefixes": list(self.prefixes),
            "file_count": len(self.files),
            "bytes": self.bytes,
            "files": [f.to_dict() for f in self.files],
        }

    def to_json(self) -> bytes:
        return dumps_record(self.to_dict())

    @classmethod
    def from_json(cls, raw: bytes | str) -> RunRecord:
        data = _load(raw, RUN_RECORD_SCHEMA)
        try:
            files = tuple(
                RecordedFile(f["type"], f["path"], f["key"], int(f["size"]), f["sha256"],
                             _version_id(f.get("version_id")), _crc64nvme(f.get("crc64nvme")),
                             _etag(f.get("etag")))
                for f in data.get("files") or ()
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordInvalidError(f"run record lists a malformed file: {exc}") from None
        return cls(
            run_id=data["run_id"],
            project_key=str(data.get("project_key", "")),
            timestamp=data.get("timestamp"),
            archive_bucket=str(data.get("archive_bucket", "")),
            created_at=str(data.get("created_at", "")),
            files=files,
            prefixes=tuple(data.get("prefixes") or ()),
            uploader=dict(data.get("uploader") or {}),
            config_sha256=data.get("config_sha256"),
        )


def _version_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise RecordInvalidError(f"run record lists a malformed version id {value!r}")
    return value


def _etag(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip('"') or len(value) > 200:
        raise RecordInvalidError(f"run record lists a malformed etag {value!r}")
    return value


def _crc64nvme(value: Any) -> str | None:
    if value is None:
        return None
    if not is_crc64nvme_b64(value):
        raise RecordInvalidError(f"run record lists a malformed crc64nvme {value!r}")
    return value
