"""The manifest: the client's complete, versioned description of one run.

It is uploaded last, so its arrival in staging is the run's commit. The filer trusts nothing in it
until :func:`Manifest.from_json` has checked every field against the contract, so a hostile or
broken client can do no more than get its run refused.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from .artifact_types import get_artifact_type
from .exceptions import ContractError, ManifestInvalidError
from .layout import (
    _has_control,
    archive_key,
    blob_piece_id,
    is_blob_id,
    is_sha256_hex,
    pack_piece_id,
    validate_project_key,
    validate_relative_path,
    validate_run_id,
)
from .timestamps import validate_timestamp

MANIFEST_SCHEMA = "artifact-backup.manifest"
#: The newest version this package writes and reads. Version 2 adds files that travel by reuse
#: (``piece`` null, ``reuse`` set); version 3 adds blobs named by their file rather than their
#: content (:func:`blob_slot_id`). A manifest is written as the oldest version that can say what it
#: says, so a filer that predates a feature keeps accepting every run that does not use it.
MANIFEST_VERSION = 3
#: Every version :meth:`Manifest.from_json` accepts.
MANIFEST_VERSIONS = (1, 2, 3)
#: The version that introduced reuse references.
REUSE_MANIFEST_VERSION = 2
#: The version that introduced blobs named by their file (sent while being hashed).
SLOT_MANIFEST_VERSION = 3
#: Larger manifests are refused unread: a run of 100,000 files needs about 25 MB.
MAX_MANIFEST_BYTES = 32 * 1024 * 1024
MAX_FILES = 200_000
#: The largest file that may travel in a pack. The filer holds each packed file in memory once on
#: its way to its put, so it refuses larger ones; the client must send them as blobs and so may not
#: set its pack threshold above this.
MAX_PACKED_FILE_BYTES = 128 * 1024 * 1024
#: Bounds on the free-text fields, which are copied into the claim and the run record.
MAX_UPLOADER_ENTRIES = 32
MAX_TEXT_LENGTH = 256

PieceKind = Literal["pack", "blob"]


@dataclass(frozen=True, slots=True)
class Piece:
    """One staging object of the run: a pack of small files, or one large file's content."""

    id: str
    kind: PieceKind
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class Reuse:
    """A file the client does not send: the filer copies it from the archive's earlier copy.

    Only the checksum travels; which archive object holds it is the filer's own knowledge (its reuse
    index), so a client can never point the filer at an object of its choosing.
    """

    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of the run, where it is filed and which piece carries it.

    ``piece`` is None exactly when ``reuse`` is set: the file is not in staging, the filer copies it
    from an earlier run's copy in the archive.
    """

    type: str
    path: str
    size: int
    sha256: str
    piece: str | None
    reuse: Reuse | None = None

    @property
    def member_name(self) -> str:
        """The file's name inside a pack: its type folder, then its relative path."""
        return f"{self.type}/{self.path}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "piece": self.piece,
        }
        if self.reuse is not None:
            data["reuse"] = self.reuse.to_dict()
        return data


@dataclass(frozen=True)
class Manifest:
    run_id: str
    project_key: str
    timestamp: str | None
    archive_bucket: str
    created_at: str
    files: tuple[FileEntry, ...]
    pieces: tuple[Piece, ...]
    uploader: Mapping[str, str] = field(default_factory=dict)
    config_sha256: str | None = None

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(sorted({f.type for f in self.files}))

    def pieces_by_id(self) -> dict[str, Piece]:
        return {p.id: p for p in self.pieces}

    def files_by_piece(self) -> dict[str, list[FileEntry]]:
        """Files grouped by the piece carrying them; reused files travel in none and are left out."""
        grouped: dict[str, list[FileEntry]] = {p.id: [] for p in self.pieces}
        for entry in self.files:
            if entry.piece is not None:
                grouped[entry.piece].append(entry)
        return grouped

    @property
    def reused(self) -> tuple[FileEntry, ...]:
        """The files the filer copies from the archive instead of receiving them."""
        return tuple(f for f in self.files if f.reuse is not None)

    @property
    def version(self) -> int:
        """The oldest schema version that can say everything this manifest says."""
        if any(p.kind == "blob" and p.id != blob_piece_id(p.sha256) for p in self.pieces):
            return SLOT_MANIFEST_VERSION
        return REUSE_MANIFEST_VERSION if self.reused else 1

    def _head(self) -> dict[str, Any]:
        return {
            "schema": MANIFEST_SCHEMA,
            "version": self.version,
            "run_id": self.run_id,
            "project_key": self.project_key,
            "timestamp": self.timestamp,
            "archive_bucket": self.archive_bucket,
            "created_at": self.created_at,
            "uploader": dict(self.uploader),
            "config_sha256": self.config_sha256,
            "pieces": [p.to_dict() for p in self.pieces],
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self._head(), "files": [f.to_dict() for f in self.files]}

    def to_json(self) -> bytes:
        """The manifest's bytes: ``to_dict`` as compact JSON, written one file entry at a time.

        A run of 50,000 files would otherwise hold a dictionary per file and the whole text at
        once, several times the size of the result, just to send it.
        """
        out = io.BytesIO()
        head = _compact(self._head())
        out.write(head[:-1].encode())  # "files" comes last: open the object back up
        out.write(b',"files":[')
        for i, entry in enumerate(self.files):
            if i:
                out.write(b",")
            out.write(_compact(entry.to_dict()).encode())
        out.write(b"]}")
        return out.getvalue()

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        """Build and fully validate a manifest; every problem raises :class:`ManifestInvalidError`."""
        try:
            return _parse_manifest(data)
        except ManifestInvalidError:
            raise
        except ContractError as exc:
            raise ManifestInvalidError(str(exc)) from None

    @classmethod
    def from_json(cls, raw: bytes | str) -> Manifest:
        _check_length(raw)
        return cls.from_dict(_loads(raw))

    @classmethod
    def read(cls, stream: Any) -> Manifest:
        """Read a manifest from a binary stream to its end, as :meth:`from_json` would.

        A large run's manifest is tens of megabytes, and ``from_json(stream.read())`` holds its
        bytes, their text and the parsed JSON all at once while the entries are built. Here the
        bytes go once decoded and the text once parsed, and the values repeated in every entry (a
        file's type and piece, a piece's kind) are one string each.
        """
        raw = stream.read()
        _check_length(raw)
        try:
            # What json.loads does with bytes, done here so the bytes can go before the parse.
            text = raw.decode(json.detect_encoding(raw), "surrogatepass")
        except UnicodeDecodeError as exc:
            raise ManifestInvalidError(f"manifest is not valid JSON: {exc}") from None
        del raw
        data = _loads(text)
        del text
        return cls.from_dict(data)


def _check_length(raw: bytes | str) -> None:
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestInvalidError(
            f"manifest is {len(raw)} bytes, more than the {MAX_MANIFEST_BYTES} allowed"
        )


#: Fields whose values repeat across a manifest's objects: a file's type and piece, a piece's kind.
_REPEATED = ("type", "piece", "kind")


def _loads(raw: bytes | str) -> Any:
    shared: dict[str, str] = {}

    def unique_and_shared(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        data = _unique_keys(pairs)
        for name in _REPEATED:
            value = data.get(name)
            if type(value) is str:
                data[name] = shared.setdefault(value, value)
        return data

    try:
        return json.loads(raw, object_pairs_hook=unique_and_shared)
    except ManifestInvalidError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestInvalidError(f"manifest is not valid JSON: {exc}") from None
    except RecursionError:
        # json's C scanner recurses per nesting level: a few kilobytes of brackets would
        # otherwise escape as a RecursionError, which the filer treats as a transient failure.
        raise ManifestInvalidError("manifest is not valid JSON: nested too deeply") from None


def _compact(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refuse an object that names a key twice: JSON parsers disagree on which value wins, so such a
    manifest could mean one run to one reader and another run to the next."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ManifestInvalidError(f"manifest names the key {key!r} twice in one object")
        data[key] = value
    return data


def _require(data: Mapping[str, Any], key: str, kinds: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise ManifestInvalidError(f"{where} has no {key!r}")
    value = data[key]
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise ManifestInvalidError(f"{where} {key!r} has the wrong type")
    if not isinstance(value, kinds):
        raise ManifestInvalidError(f"{where} {key!r} has the wrong type")
    return value


def _size(data: Mapping[str, Any], where: str) -> int:
    size = _require(data, "size", int, where)
    if size < 0:
        raise ManifestInvalidError(f"{where} has a negative size")
    return size


def _sha(data: Mapping[str, Any], where: str) -> str:
    sha = _require(data, "sha256", str, where)
    if not is_sha256_hex(sha):
        raise ManifestInvalidError(f"{where} sha256 is not 64 lowercase hex characters")
    return sha


def _reuse(raw: Mapping[str, Any], version: int, sha: str, where: str) -> Reuse | None:
    """The file's reuse reference, checked as strictly as a piece: it is the whole of its transport.

    A file either names a piece (and has no ``reuse``, or a null one) or has a null ``piece`` and a
    ``reuse`` object holding exactly its own ``sha256``; version 1 knows no reuse at all.
    """
    if raw.get("reuse") is None:
        return None
    if version < REUSE_MANIFEST_VERSION:
        raise ManifestInvalidError(
            f"{where} has 'reuse', which manifest version {version} does not know: "
            f"reuse needs version {REUSE_MANIFEST_VERSION}"
        )
    reuse = raw["reuse"]
    if not isinstance(reuse, dict) or set(reuse) != {"sha256"}:
        raise ManifestInvalidError(f"{where} reuse must be an object holding only 'sha256'")
    if "piece" not in raw or raw["piece"] is not None:
        raise ManifestInvalidError(f"{where} is reused, so its piece must be null")
    if _sha(reuse, f"{where} reuse") != sha:
        raise ManifestInvalidError(f"{where} reuse sha256 is not the file's own sha256")
    return Reuse(sha)


def _text(value: str, where: str) -> str:
    """Free text that ends up in the archive's JSON records: short, printable, encodable.

    A lone surrogate (``"\\ud800"`` is valid JSON) passes every type check but cannot be encoded as
    UTF-8, so it would break the claim or run record after files were already filed.
    """
    if len(value) > MAX_TEXT_LENGTH:
        raise ManifestInvalidError(f"{where} is longer than {MAX_TEXT_LENGTH} characters")
    if _has_control(value):
        raise ManifestInvalidError(f"{where} {value!r} contains control or unencodable characters")
    return value


def _parse_manifest(data: Any) -> Manifest:
    if not isinstance(data, dict):
        raise ManifestInvalidError("manifest is not a JSON object")
    if data.get("schema") != MANIFEST_SCHEMA:
        raise ManifestInvalidError(f"manifest schema is {data.get('schema')!r}, not {MANIFEST_SCHEMA!r}")
    version = data.get("version")
    if isinstance(version, bool) or version not in MANIFEST_VERSIONS:
        raise ManifestInvalidError(
            f"manifest version {version!r} is not supported (this filer reads versions "
            f"{', '.join(map(str, MANIFEST_VERSIONS))}): upgrade the filer or the client so they match"
        )
    run_id = validate_run_id(_require(data, "run_id", str, "manifest"))
    project_key = validate_project_key(_require(data, "project_key", str, "manifest"))
    timestamp = data.get("timestamp")
    if timestamp is not None:
        validate_timestamp(timestamp)
    archive_bucket = _require(data, "archive_bucket", str, "manifest")
    if not archive_bucket:
        raise ManifestInvalidError("manifest archive_bucket is empty")
    created_at = _text(_require(data, "created_at", str, "manifest"), "manifest created_at")
    try:
        datetime.fromisoformat(created_at)
    except ValueError:
        raise ManifestInvalidError(
            f"manifest created_at {created_at!r} is not an ISO 8601 date and time"
        ) from None
    uploader = data.get("uploader") or {}
    if not isinstance(uploader, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in uploader.items()
    ):
        raise ManifestInvalidError("manifest uploader must map strings to strings")
    if len(uploader) > MAX_UPLOADER_ENTRIES:
        raise ManifestInvalidError(f"manifest uploader has more than {MAX_UPLOADER_ENTRIES} entries")
    for name, value in uploader.items():
        _text(name, "manifest uploader key")
        _text(value, f"manifest uploader {name!r}")
    config_sha = data.get("config_sha256")
    if config_sha is not None and not is_sha256_hex(config_sha):
        raise ManifestInvalidError("manifest config_sha256 is not a SHA-256 hex digest")

    raw_pieces = _require(data, "pieces", list, "manifest")
    raw_files = _require(data, "files", list, "manifest")
    if len(raw_files) > MAX_FILES:
        raise ManifestInvalidError(f"manifest lists {len(raw_files)} files, more than {MAX_FILES}")
    if not raw_files:
        raise ManifestInvalidError("manifest lists no files")

    pieces: dict[str, Piece] = {}
    for i, raw in enumerate(raw_pieces):
        where = f"piece #{i}"
        if not isinstance(raw, dict):
            raise ManifestInvalidError(f"{where} is not an object")
        kind = _require(raw, "kind", str, where)
        sha = _sha(raw, where)
        piece_id = _require(raw, "id", str, where)
        expected = {"pack": pack_piece_id, "blob": blob_piece_id}.get(kind)
        if expected is None:
            raise ManifestInvalidError(f"{where} kind {kind!r} is neither 'pack' nor 'blob'")
        if piece_id != expected(sha) and not (
            kind == "blob" and version >= SLOT_MANIFEST_VERSION and is_blob_id(piece_id)
        ):
            raise ManifestInvalidError(f"{where} id {piece_id!r} does not match its kind and sha256")
        if piece_id in pieces:
            raise ManifestInvalidError(f"piece {piece_id!r} is listed twice")
        pieces[piece_id] = Piece(piece_id, kind, _size(raw, where), sha)

    files: list[FileEntry] = []
    seen: set[tuple[str, str]] = set()
    used: set[str] = set()
    for i, raw in enumerate(raw_files):
        where = f"file #{i}"
        if not isinstance(raw, dict):
            raise ManifestInvalidError(f"{where} is not an object")
        type_name = _require(raw, "type", str, where)
        artifact_type = get_artifact_type(type_name)
        path = validate_relative_path(_require(raw, "path", str, where))
        if not artifact_type.allows(path):
            raise ManifestInvalidError(
                f"{where} {path!r} has an extension the {type_name!r} type does not keep"
            )
        # The whole key must fit S3's 1,024 bytes: a long non-ASCII project key leaves less room for
        # the path, and S3 would refuse the put halfway through filing.
        archive_key(project_key, type_name, timestamp, path)
        if (type_name, path) in seen:
            raise ManifestInvalidError(f"file {type_name}/{path} is listed twice")
        seen.add((type_name, path))
        size, sha = _size(raw, where), _sha(raw, where)
        reuse = _reuse(raw, version, sha, where)
        if reuse is not None:
            files.append(FileEntry(type_name, path, size, sha, None, reuse))
            continue
        piece_id = _require(raw, "piece", str, where)
        piece = pieces.get(piece_id)
        if piece is None:
            raise ManifestInvalidError(f"{where} refers to piece {piece_id!r}, which is not listed")
        entry = FileEntry(type_name, path, size, sha, piece_id)
        if piece.kind == "blob" and (piece.sha256 != entry.sha256 or piece.size != entry.size):
            raise ManifestInvalidError(f"{where} does not match the blob that carries it")
        used.add(piece_id)
        files.append(entry)
    unused = set(pieces) - used
    if unused:
        raise ManifestInvalidError(f"pieces {sorted(unused)} carry no listed file")

    return Manifest(
        run_id=run_id,
        project_key=project_key,
        timestamp=timestamp,
        archive_bucket=archive_bucket,
        created_at=created_at,
        files=tuple(files),
        pieces=tuple(pieces.values()),
        uploader=dict(uploader),
        config_sha256=config_sha,
    )


def build_manifest(
    *,
    run_id: str,
    project_key: str,
    timestamp: str | None,
    archive_bucket: str,
    created_at: str,
    files: Iterable[FileEntry],
    pieces: Iterable[Piece],
    uploader: Mapping[str, str] | None = None,
    config_sha256: str | None = None,
) -> Manifest:
    """Assemble a manifest on the client and validate it exactly as the filer will."""
    draft = Manifest(
        run_id=run_id,
        project_key=project_key,
        timestamp=timestamp,
        archive_bucket=archive_bucket,
        created_at=created_at,
        files=tuple(files),
        pieces=tuple(pieces),
        uploader=dict(uploader or {}),
        config_sha256=config_sha256,
    )
    return Manifest.from_dict(draft.to_dict())
