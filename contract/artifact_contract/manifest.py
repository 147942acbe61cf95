"""The manifest: the client's complete, versioned description of one run.

It is uploaded last, so its arrival in staging is the run's commit. The filer trusts nothing in it
until :meth:`Manifest.read` has checked every field against the contract, so a hostile or broken
client can do no more than get its run refused.

A run may list 200,000 files, so neither side holds them: the manifest is read from a file as a
stream (:mod:`.manifest_json`), entry by entry, each checked (:mod:`.manifest_checks`) into a
:class:`~.spool.FileSpool` on disk, and written from one the same way (:meth:`Manifest.write_json`).
The small parts (the head fields and the pieces, of which there are few) stay in memory. The JSON is
the standard library's, read one entry at a time, so a manifest means exactly what ``json.loads``
makes of it.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from .entries import FileEntry, Piece, PieceKind, Reuse
from .exceptions import ContractError, ManifestInvalidError
from .layout import archive_key, blob_piece_id
from .manifest_checks import FileChecker, check_head
from .manifest_json import CHUNK, Walk, compact
from .manifest_limits import (
    MANIFEST_SCHEMA,
    MAX_FILES,
    MAX_MANIFEST_BYTES,
    REUSE_MANIFEST_VERSION,
    SLOT_MANIFEST_VERSION,
)
from .spool import FileSpool

__all__ = [
    "FileEntry",
    "Manifest",
    "Piece",
    "PieceKind",
    "Reuse",
    "build_manifest",
]


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
        head = compact(self._head())
        out.write(head[:-1].encode())  # "files" comes last: open the object back up
        out.write(b',"files":[')
        for i, entry in enumerate(self.files):
            if i:
                out.write(b",")
            out.write(compact(entry.to_dict()).encode())
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
    while chunk := stream.read(CHUNK):
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
        head, count = Walk(stream, max_pieces).run(None)
        checked = check_head(head, count)
        spool = FileSpool(directory)
        try:
            stream.seek(start)
            adder = FileChecker(checked, spool)
            Walk(stream, max_pieces).run(adder)
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
                body.write(compact(entry.to_dict()).encode())
                reused = reused or entry.reuse is not None
            shell = Manifest(self.run_id, self.project_key, self.timestamp, self.archive_bucket,
                             self.created_at, (), self.pieces, self.uploader, self.config_sha256)
            head = shell._head()
            if head["version"] < REUSE_MANIFEST_VERSION and reused:
                head["version"] = REUSE_MANIFEST_VERSION
            out.write(compact(head)[:-1].encode())
            out.write(b',"files":[')
            body.seek(0)
            shutil.copyfileobj(body, out)
            out.write(b"]}")
