"""The manifest: the client's complete, versioned description of one run.

It is uploaded last, so its arrival in staging is the run's commit. The filer trusts nothing in it
until :meth:`Manifest.read` has checked every field against the contract, so a hostile or broken
client can do no more than get its run refused.

A run may list 200,000 files, so neither side holds them: the manifest is read from a file as a
stream (:class:`_Text`, :class:`_Walk`), entry by entry, into a :class:`~.spool.FileSpool` on disk,
and written from one the same way (:meth:`Manifest.write_json`). The small parts (the head fields
and the pieces, of which there are few) stay in memory. The JSON is the standard library's, read
one entry at a time, so a manifest means exactly what ``json.loads`` makes of it.
"""

from __future__ import annotations

import codecs
import io
import json
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from .artifact_types import get_artifact_type
from .checksums import is_crc64nvme_b64
from .entries import FileEntry, Piece, PieceKind, Reuse
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
from .spool import FileSpool
from .timestamps import validate_timestamp

__all__ = [
    "MANIFEST_SCHEMA",
    "MANIFEST_VERSION",
    "MANIFEST_VERSIONS",
    "MAX_FILES",
    "MAX_MANIFEST_BYTES",
    "MAX_PACKED_FILE_BYTES",
    "FileEntry",
    "Manifest",
    "Piece",
    "PieceKind",
    "Reuse",
    "build_manifest",
]

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
#: Larger manifests are refused unread. A file's entry is about 200 bytes with a short path and
#: about 1.2 KB with a path near S3's 1,024-byte key limit, so MAX_FILES entries of such paths fit
#: (the filer copies the body to /tmp; it is never held in memory).
MAX_MANIFEST_BYTES = 256 * 1024 * 1024
MAX_FILES = 200_000
#: The largest file that may travel in a pack. The filer holds each packed file in memory once on
#: its way to its put, so it refuses larger ones; the client must send them as blobs and so may not
#: set its pack threshold above this.
MAX_PACKED_FILE_BYTES = 128 * 1024 * 1024
#: Bounds on the free-text fields, which are copied into the claim and the run record.
MAX_UPLOADER_ENTRIES = 32
MAX_TEXT_LENGTH = 256
#: One entry of ``files`` or ``pieces`` longer than this (in characters) is refused rather than read
#: further: a valid one is a few kilobytes at most, even with every character escaped.
MAX_ENTRY_CHARS = 1024 * 1024


@dataclass(frozen=True, eq=False)
class Manifest:
    """One run's manifest. ``files`` is a :class:`~.spool.FileSpool` for a manifest that was read
    (:meth:`read`), or a tuple for one built in memory (a draft, a test's); both are re-readable.

    A read manifest holds a spool on disk: close it (:meth:`close`, or ``with``) when done.
    """

    run_id: str
    project_key: str
    timestamp: str | None
    archive_bucket: str
    created_at: str
    files: Any
    pieces: tuple[Piece, ...]
    uploader: Mapping[str, str] = field(default_factory=dict)
    config_sha256: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.files, FileSpool | tuple):
            object.__setattr__(self, "files", tuple(self.files))
        object.__setattr__(self, "pieces", tuple(self.pieces))

    @property
    def spooled(self) -> bool:
        return isinstance(self.files, FileSpool)

    @property
    def file_count(self) -> int:
        return len(self.files)

    @property
    def total_bytes(self) -> int:
        if isinstance(self.files, FileSpool):
            return self.files.total_bytes
        return sum(f.size for f in self.files)

    @property
    def types(self) -> tuple[str, ...]:
        if isinstance(self.files, FileSpool):
            return self.files.types
        return tuple(sorted({f.type for f in self.files}))

    def pieces_by_id(self) -> dict[str, Piece]:
        return {p.id: p for p in self.pieces}

    def files_of(self, piece_id: str) -> Sequence[FileEntry]:
        """The files one piece carries, in manifest order; from a spool, read as they are used."""
        if isinstance(self.files, FileSpool):
            return self.files.of_piece(piece_id)
        return [f for f in self.files if f.piece == piece_id]

    def files_by_piece(self) -> dict[str, list[FileEntry]]:
        """Files grouped by the piece carrying them; reused files travel in none and are left out.

        Holds every file at once: for small manifests (tests); a filer reads :meth:`files_of`.
        """
        grouped: dict[str, list[FileEntry]] = {p.id: [] for p in self.pieces}
        for entry in self.files:
            if entry.piece is not None:
                grouped[entry.piece].append(entry)
        return grouped

    def carried_by(self, piece_ids: Iterable[str], *, reused: bool = False) -> Iterator[FileEntry]:
        """The files carried by any of ``piece_ids`` (with ``reused``, and those travelling by
        reuse), in manifest order."""
        if isinstance(self.files, FileSpool):
            return self.files.carried_by(piece_ids, reused=reused)
        wanted = set(piece_ids)
        return (f for f in self.files if f.piece in wanted or (reused and f.reuse is not None))

    @property
    def reused(self) -> tuple[FileEntry, ...]:
        """The files the filer copies from the archive instead of receiving them (large files
        only, so few)."""
        if isinstance(self.files, FileSpool):
            return tuple(self.files.reused()) if self.files.reused_count else ()
        return tuple(f for f in self.files if f.reuse is not None)

    @property
    def reused_count(self) -> int:
        if isinstance(self.files, FileSpool):
            return self.files.reused_count
        return sum(1 for f in self.files if f.reuse is not None)

    @property
    def reused_bytes(self) -> int:
        if isinstance(self.files, FileSpool):
            return self.files.reused_bytes
        return sum(f.size for f in self.files if f.reuse is not None)

    def files_in_name_order(self) -> Iterator[FileEntry]:
        """Every file sorted by (type, path), without sorting them in memory when spooled."""
        if isinstance(self.files, FileSpool):
            return self.files.in_name_order()
        return iter(sorted(self.files, key=lambda f: (f.type, f.path)))

    def files_in_key_order(self) -> Iterator[tuple[FileEntry, str]]:
        """Every file with its archive key, sorted by key, as the run record lists them."""
        if isinstance(self.files, FileSpool):
            return self.files.in_key_order()
        keyed = [(f, archive_key(self.project_key, f.type, self.timestamp, f.path)) for f in self.files]
        return iter(sorted(keyed, key=lambda pair: pair[1]))

    @property
    def version(self) -> int:
        """The oldest schema version that can say everything this manifest says."""
        if any(p.kind == "blob" and p.id != blob_piece_id(p.sha256) for p in self.pieces):
            return SLOT_MANIFEST_VERSION
        return REUSE_MANIFEST_VERSION if self.reused_count else 1

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

    def write_json(self, out: IO[bytes]) -> None:
        """Write the manifest's bytes (``to_dict`` as compact JSON) to ``out``, one file entry at a
        time, so writing a run of 200,000 files holds no more than one entry's text."""
        head = _compact(self._head())
        out.write(head[:-1].encode())  # "files" comes last: open the object back up
        out.write(b',"files":[')
        for i, entry in enumerate(self.files):
            if i:
                out.write(b",")
            out.write(_compact(entry.to_dict()).encode())
        out.write(b"]}")

    def to_json(self) -> bytes:
        """The manifest's bytes in memory (:meth:`write_json`): for small manifests and tests."""
        out = io.BytesIO()
        self.write_json(out)
        return out.getvalue()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Manifest):
            return NotImplemented
        return self._head() == other._head() and len(self.files) == len(other.files) and all(
            a == b for a, b in zip(self.files, other.files, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def close(self) -> None:
        """Free the spool of a read manifest (nothing for one built in memory)."""
        if isinstance(self.files, FileSpool):
            self.files.close()

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        """Build and fully validate a manifest from parsed JSON, as :meth:`read` would its text."""
        try:
            raw = json.dumps(data, separators=(",", ":")).encode()
        except (TypeError, ValueError) as exc:
            raise ManifestInvalidError(f"manifest is not valid JSON: {exc}") from None
        return cls.from_json(raw)

    @classmethod
    def from_json(
        cls, raw: bytes | str, *, directory: str | None = None, max_pieces: int = MAX_FILES
    ) -> Manifest:
        """Read a manifest held in memory; every problem raises :class:`ManifestInvalidError`."""
        _check_length(len(raw))
        if isinstance(raw, str):
            if raw.startswith("\ufeff"):  # what json.loads says of a text with a BOM
                raise ManifestInvalidError("manifest is not valid JSON: Unexpected UTF-8 BOM")
            raw = raw.encode("utf-8", "surrogatepass")
        return cls.read(io.BytesIO(raw), directory=directory, max_pieces=max_pieces)

    @classmethod
    def read(cls, stream: Any, *, directory: str | None = None, max_pieces: int = MAX_FILES) -> Manifest:
        """Read and fully validate a manifest from a binary stream, entry by entry.

        The stream is read twice (the head first, since a client may list ``files`` before
        ``pieces``; then the files, each checked against the head as it is read into the spool),
        so a stream that cannot seek is copied to a temporary file first. Every problem raises
        :class:`ManifestInvalidError`; nothing but the spool grows with the run, and the pieces (held
        in memory) are refused once there are more than ``max_pieces``.
        """
        if _seekable(stream):
            start = stream.tell()
            _check_length(stream.seek(0, io.SEEK_END) - start)
            stream.seek(start)
            return _read_seekable(stream, start, directory, max_pieces)
        with tempfile.TemporaryFile(dir=directory) as copy:
            _copy_bounded(stream, copy)
            copy.seek(0)
            return _read_seekable(copy, 0, directory, max_pieces)


def _seekable(stream: Any) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, ValueError, OSError):
        return False


def _copy_bounded(stream: Any, out: IO[bytes]) -> None:
    total = 0
    while chunk := stream.read(_CHUNK):
        total += len(chunk)
        _check_length(total)
        out.write(chunk)


def _check_length(length: int) -> None:
    if length > MAX_MANIFEST_BYTES:
        raise ManifestInvalidError(
            f"manifest is {length} bytes, more than the {MAX_MANIFEST_BYTES} allowed"
        )


def _read_seekable(stream: IO[bytes], start: int, directory: str | None, max_pieces: int) -> Manifest:
    try:
        head, count = _Walk(stream, max_pieces).run(None)
        checked = _check_head(head, count)
        spool = FileSpool(directory)
        try:
            stream.seek(start)
            adder = _FileChecker(checked, spool)
            _Walk(stream, max_pieces).run(adder)
            adder.finish()
            spool.seal()
        except BaseException:
            spool.close()
            raise
    except ManifestInvalidError:
        raise
    except ContractError as exc:
        raise ManifestInvalidError(str(exc)) from None
    return Manifest(
        run_id=checked.run_id,
        project_key=checked.project_key,
        timestamp=checked.timestamp,
        archive_bucket=checked.archive_bucket,
        created_at=checked.created_at,
        files=spool,
        pieces=tuple(checked.pieces.values()),
        uploader=checked.uploader,
        config_sha256=checked.config_sha256,
    )


# -- the JSON, read one value at a time -------------------------------------------------------------

_CHUNK = 64 * 1024
_WHITESPACE = re.compile(r"[ \t\n\r]*")
#: Fields whose values repeat across a manifest's objects: a file's type and piece, a piece's kind.
_REPEATED = ("type", "piece", "kind")


def _invalid(message: str) -> ManifestInvalidError:
    return ManifestInvalidError(f"manifest is not valid JSON: {message}")


class _Text:
    """The manifest's text, decoded from its bytes as it is read, as ``json.loads`` decodes bytes
    (the encoding told by the first bytes, surrogates passed through to be refused later)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        first = b""
        while len(first) < 4 and (more := stream.read(4 - len(first))):
            first += more
        self._decoder = codecs.getincrementaldecoder(json.detect_encoding(first))("surrogatepass")
        self.buf = ""
        self.pos = 0
        #: Characters dropped from the front of ``buf``, for error positions.
        self.offset = 0
        self.eof = False
        self._feed(first)

    def _feed(self, data: bytes, final: bool = False) -> None:
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            raise _invalid(str(exc)) from None
        if self.pos:
            self.offset += self.pos
            self.buf = self.buf[self.pos:] + text
            self.pos = 0
        else:
            self.buf += text

    def more(self) -> bool:
        """Read more text; False at the end. Reads grow with what is waiting, so a long value is
        read in as many steps as the doublings of its length."""
        if self.eof:
            return False
        data = self._stream.read(max(_CHUNK, len(self.buf) - self.pos))
        if not data:
            self.eof = True
            self._feed(b"", final=True)
        else:
            self._feed(data)
        return True

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end), not consumed."""
        while True:
            self.pos = _WHITESPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf) or not self.more():
                return self.buf[self.pos] if self.pos < len(self.buf) else ""

    def error(self, message: str) -> ManifestInvalidError:
        return _invalid(f"{message}: char {self.offset + self.pos}")


def _shared_hook() -> Any:
    shared: dict[str, str] = {}

    def unique_and_shared(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        data = _unique_keys(pairs)
        for name in _REPEATED:
            value = data.get(name)
            if type(value) is str:
                data[name] = shared.setdefault(value, value)
        return data

    return unique_and_shared


class _Walk:
    """One pass over a manifest's JSON: the top-level object's members one by one, the ``files``
    array's entries one at a time (to ``on_file``, or only counted), everything else whole."""

    def __init__(self, stream: IO[bytes], max_pieces: int = MAX_FILES) -> None:
        self.text = _Text(stream)
        self.max_pieces = max_pieces
        self._decoder = json.JSONDecoder(object_pairs_hook=_shared_hook())

    def value(self) -> Any:
        """The next JSON value, decoded whole; at most :data:`MAX_ENTRY_CHARS` are read for it."""
        text = self.text
        text.peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(text.buf, text.pos)
            except json.JSONDecodeError as exc:
                waiting = len(text.buf) - text.pos
                if waiting <= MAX_ENTRY_CHARS and text.more():
                    continue
                longer = (f" (or a value longer than {MAX_ENTRY_CHARS} characters)"
                          if waiting > MAX_ENTRY_CHARS else "")
                raise _invalid(f"{exc.msg}: char {text.offset + exc.pos}{longer}") from None
            except RecursionError:
                # json's C scanner recurses per nesting level: a few kilobytes of brackets would
                # otherwise escape as a RecursionError, which the filer treats as a transient failure.
                raise _invalid("nested too deeply") from None
            if end == len(text.buf) and text.more():
                continue  # a number at the end of what was read may go on ("12" of "123")
            text.pos = end
            return value

    def run(self, on_file: Any) -> tuple[Any, int]:
        """Walk the whole manifest: its members but ``files`` and how many files it lists.

        A manifest that is not an object is read whole, as ``json.loads`` would, to say so.
        """
        text = self.text
        if text.peek() != "{":
            value = self.value()
            self._end()
            return value, 0
        text.pos += 1
        head: dict[str, Any] = {}
        count = 0
        if text.peek() == "}":
            text.pos += 1
        else:
            while True:
                if text.peek() != '"':
                    raise text.error("Expecting property name enclosed in double quotes")
                key = self.value()
                if key in head:
                    raise ManifestInvalidError(f"manifest names the key {key!r} twice in one object")
                if text.peek() != ":":
                    raise text.error("Expecting ':' delimiter")
                text.pos += 1
                if key == "files" and text.peek() == "[":
                    count = self._array(on_file)
                    head[key] = _LISTED
                elif key == "pieces" and text.peek() == "[":
                    head[key] = pieces = []
                    self._array(lambda i, piece, into=pieces: self._piece(i, piece, into))
                else:
                    head[key] = self.value()
                following = text.peek()
                text.pos += 1
                if following == "}":
                    break
                if following != ",":
                    text.pos -= 1
                    raise text.error("Expecting ',' delimiter")
        self._end()
        return head, count

    def _piece(self, index: int, piece: Any, into: list[Any]) -> None:
        """Keep a piece unless it is one too many: pieces are held, so their number is bounded."""
        if index >= self.max_pieces:
            raise ManifestInvalidError(
                f"manifest lists more than {self.max_pieces} pieces: a run needs at most one per file"
            )
        into.append(piece)

    def _array(self, on_item: Any) -> int:
        """Walk an array whose ``[`` is next, one item at a time; how many items it holds."""
        text = self.text
        text.pos += 1  # the "["
        if text.peek() == "]":
            text.pos += 1
            return 0
        count = 0
        while True:
            item = self.value()
            if on_item is not None:
                on_item(count, item)
            count += 1
            following = text.peek()
            text.pos += 1
            if following == "]":
                return count
            if following != ",":
                text.pos -= 1
                raise text.error("Expecting ',' delimiter")

    def _end(self) -> None:
        if self.text.peek() != "":
            raise self.text.error("Extra data")


class _Listed:
    """Stands for the ``files`` array while the head is checked: it was walked, not kept."""

    def __repr__(self) -> str:
        return "<files>"


_LISTED = _Listed()

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
class _Head:
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


def _check_head(data: Any, file_count: int) -> _Head:
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
    if "files" not in data:
        raise ManifestInvalidError("manifest has no 'files'")
    if data["files"] is not _LISTED:
        raise ManifestInvalidError("manifest 'files' has the wrong type")
    if file_count > MAX_FILES:
        raise ManifestInvalidError(f"manifest lists {file_count} files, more than {MAX_FILES}")
    if not file_count:
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
    return _Head(version, run_id, project_key, timestamp, archive_bucket, created_at, dict(uploader),
                 config_sha, pieces)


class _FileChecker:
    """Checks each file entry as it is read and adds it to the spool; the spool is the duplicate
    check, so no set of names grows in memory."""

    def __init__(self, head: _Head, spool: FileSpool) -> None:
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
    out: IO[bytes] | None = None,
    directory: str | None = None,
) -> Manifest:
    """Assemble a manifest on the client and validate it exactly as the filer will: its bytes are
    written (to ``out``, a seekable binary file, or a temporary one) and read back by
    :meth:`Manifest.read`. ``files`` is read once, as it comes (a spool, a list).

    The result is the manifest as read, spooled; ``out`` then holds its bytes, ready to send.
    """
    draft = _Draft(run_id, project_key, timestamp, archive_bucket, created_at, files, tuple(pieces),
                   dict(uploader or {}), config_sha256)
    if out is None:
        with tempfile.TemporaryFile(dir=directory) as temporary:
            return _build(draft, temporary, directory)
    return _build(draft, out, directory)


def _build(draft: _Draft, out: IO[bytes], directory: str | None) -> Manifest:
    start = out.tell()
    draft.write_json(out)
    out.flush()
    out.seek(start)
    manifest = Manifest.read(out, directory=directory)
    out.seek(start)
    return manifest


@dataclass(frozen=True)
class _Draft:
    """A manifest's parts before it is checked: written once, entry by entry, as
    :meth:`Manifest.write_json` writes a manifest (``files`` may be an iterator)."""

    run_id: str
    project_key: str
    timestamp: str | None
    archive_bucket: str
    created_at: str
    files: Iterable[FileEntry]
    pieces: tuple[Piece, ...]
    uploader: dict[str, str]
    config_sha256: str | None

    def write_json(self, out: IO[bytes]) -> None:
        # The version needs to know whether a file is reused, which only the files say: the head is
        # written after them, in a second file, and the two joined.
        with tempfile.TemporaryFile() as body:
            reused = False
            for i, entry in enumerate(self.files):
                if i:
                    body.write(b",")
                body.write(_compact(entry.to_dict()).encode())
                reused = reused or entry.reuse is not None
            shell = Manifest(self.run_id, self.project_key, self.timestamp, self.archive_bucket,
                             self.created_at, (), self.pieces, self.uploader, self.config_sha256)
            head = shell._head()
            if head["version"] < REUSE_MANIFEST_VERSION and reused:
                head["version"] = REUSE_MANIFEST_VERSION
            out.write(_compact(head)[:-1].encode())
            out.write(b',"files":[')
            body.seek(0)
            shutil.copyfileobj(body, out)
            out.write(b"]}")
