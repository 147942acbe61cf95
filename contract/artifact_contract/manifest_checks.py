"""Every field of a manifest checked against the contract: the head (:func:`check_head`) whole,
the file entries (:class:`FileChecker`) one by one as they are read into the spool."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .artifact_types import get_artifact_type
from .checksums import is_crc64nvme_b64
from .entries import FileEntry, Piece, Reuse
from .exceptions import ContractError, ManifestInvalidError
from .layout import (
    _has_control,
    archive_key,
    blob_piece_id,
    check_untimestamped_path,
    is_blob_id,
    is_sha256_hex,
    pack_piece_id,
    validate_project_key,
    validate_relative_path,
    validate_run_id,
)
from .manifest_json import LISTED
from .manifest_limits import (
    MANIFEST_SCHEMA,
    MANIFEST_VERSIONS,
    MAX_FILES,
    MAX_TEXT_LENGTH,
    MAX_UPLOADER_ENTRIES,
    REUSE_MANIFEST_VERSION,
    SLOT_MANIFEST_VERSION,
)
from .spool import FileSpool
from .timestamps import validate_timestamp


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


def _crc(data: Mapping[str, Any], where: str) -> str | None:
    """The file's CRC64NVME, optional: clients that predate it send none, and any manifest version
    may carry it (a filer that predates it ignores it)."""
    crc = data.get("crc64nvme")
    if crc is None:
        return None
    if not is_crc64nvme_b64(crc):
        raise ManifestInvalidError(f"{where} crc64nvme is not the base64 of 8 bytes, as S3 writes it")
    return crc


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


@dataclass(frozen=True)
class Head:
    """A manifest's fields but its files, checked: what every file entry is checked against."""

    version: int
    run_id: str
    project_key: str
    timestamp: str | None
    archive_bucket: str
    created_at: str
    uploader: dict[str, str]
    config_sha256: str | None
    pieces: dict[str, Piece]


def check_head(data: Any, file_count: int) -> Head:
    """Check everything but the file entries, in the order the contract always has."""
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
    uploader = _check_uploader(data.get("uploader") or {})
    config_sha = data.get("config_sha256")
    if config_sha is not None and not is_sha256_hex(config_sha):
        raise ManifestInvalidError("manifest config_sha256 is not a SHA-256 hex digest")

    raw_pieces = _require(data, "pieces", list, "manifest")
    if "files" not in data:
        raise ManifestInvalidError("manifest has no 'files'")
    if data["files"] is not LISTED:
        raise ManifestInvalidError("manifest 'files' has the wrong type")
    if file_count > MAX_FILES:
        raise ManifestInvalidError(f"manifest lists {file_count} files, more than {MAX_FILES}")
    if not file_count:
        raise ManifestInvalidError("manifest lists no files")

    pieces = _check_pieces(raw_pieces, version)
    return Head(version, run_id, project_key, timestamp, archive_bucket, created_at, dict(uploader),
                 config_sha, pieces)


def _check_uploader(uploader: Any) -> dict[str, str]:
    """The uploader's description: a bounded map of printable text to printable text."""
    if not isinstance(uploader, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in uploader.items()
    ):
        raise ManifestInvalidError("manifest uploader must map strings to strings")
    if len(uploader) > MAX_UPLOADER_ENTRIES:
        raise ManifestInvalidError(f"manifest uploader has more than {MAX_UPLOADER_ENTRIES} entries")
    for name, value in uploader.items():
        _text(name, "manifest uploader key")
        _text(value, f"manifest uploader {name!r}")
    return uploader


def _check_pieces(raw_pieces: list[Any], version: int) -> dict[str, Piece]:
    """The pieces by id; each id must be the one its kind and SHA-256 give (or, from
    ``SLOT_MANIFEST_VERSION``, a blob's name slot), and listed once."""
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
    return pieces


class FileChecker:
    """Checks each file entry as it is read and adds it to the spool; the spool is the duplicate
    check, so no set of names grows in memory."""

    def __init__(self, head: Head, spool: FileSpool) -> None:
        self._head = head
        self._spool = spool
        self._used: set[str] = set()

    def __call__(self, i: int, raw: Any) -> None:
        head = self._head
        where = f"file #{i}"
        if not isinstance(raw, dict):
            raise ManifestInvalidError(f"{where} is not an object")
        type_name = _require(raw, "type", str, where)
        artifact_type = get_artifact_type(type_name)
        path = validate_relative_path(_require(raw, "path", str, where))
        if head.timestamp is None:
            check_untimestamped_path(head.project_key, type_name, path)
        if not artifact_type.allows(path):
            raise ManifestInvalidError(
                f"{where} {path!r} has an extension the {type_name!r} type does not keep"
            )
        # The whole key must fit S3's 1,024 bytes: a long non-ASCII project key leaves less room for
        # the path, and S3 would refuse the put halfway through filing.
        key = archive_key(head.project_key, type_name, head.timestamp, path)
        try:
            entry = self._entry(raw, type_name, path, where)
        except ContractError:
            if (type_name, path) in self._spool:  # the contract names a file listed twice first
                raise ManifestInvalidError(f"file {type_name}/{path} is listed twice") from None
            raise
        if not self._spool.add(entry, key):
            raise ManifestInvalidError(f"file {type_name}/{path} is listed twice")
        if entry.piece is not None:
            self._used.add(entry.piece)

    def _entry(self, raw: dict[str, Any], type_name: str, path: str, where: str) -> FileEntry:
        size, sha, crc = _size(raw, where), _sha(raw, where), _crc(raw, where)
        reuse = _reuse(raw, self._head.version, sha, where)
        if reuse is not None:
            return FileEntry(type_name, path, size, sha, None, reuse, crc)
        piece_id = _require(raw, "piece", str, where)
        piece = self._head.pieces.get(piece_id)
        if piece is None:
            raise ManifestInvalidError(f"{where} refers to piece {piece_id!r}, which is not listed")
        if piece.kind == "blob" and (piece.sha256 != sha or piece.size != size):
            raise ManifestInvalidError(f"{where} does not match the blob that carries it")
        return FileEntry(type_name, path, size, sha, piece.id, None, crc)

    def finish(self) -> None:
        unused = set(self._head.pieces) - self._used
        if unused:
            raise ManifestInvalidError(f"pieces {sorted(unused)} carry no listed file")
