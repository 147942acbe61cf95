"""A run's file entries on disk rather than in memory, re-readable in the orders a run needs.

A run may list 200,000 files. Holding them as objects costs a few hundred bytes each, and every
step of the client and the filer would otherwise hold them at once (parse, group by piece, sort for
the run record and for :func:`~artifact_contract.content_sha256`). The spool keeps them in a
temporary SQLite database (the standard library's, no dependency) with a small page cache, so the
memory a run needs does not grow with its files:

- ``UNIQUE (type, path)`` is the duplicate check, and gives name order (``content_sha256``);
- an index by archive key gives the run record's order;
- an index by piece and position gives each piece's files, and a pack member found by its name.

The database is SQLite's own temporary one, in the temporary folder (on Lambda, /tmp): deleted on
close on Windows, where an open file cannot be unlinked, and unlinked once open elsewhere, so
nothing is left behind by a process that dies (:mod:`.tempfiles`); :meth:`FileSpool.close` frees
it at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, overload

from .entries import FileEntry, Reuse
from .sqlite_spool import SqliteSpool

_COLUMNS = "type, path, size, sha256, piece, reuse, crc64nvme"
_IN_ORDER = (
    "SELECT type, path, size, sha256, piece, reuse, crc64nvme "
    "FROM files ORDER BY seq"
)
_AT = (
    "SELECT type, path, size, sha256, piece, reuse, crc64nvme "
    "FROM files WHERE seq = ?"
)
_BY_NAME = (
    "SELECT type, path, size, sha256, piece, reuse, crc64nvme "
    "FROM files ORDER BY type, path"
)
_BY_KEY = (
    "SELECT type, path, size, sha256, piece, reuse, crc64nvme, key "
    "FROM files ORDER BY key"
)
_REUSED = (
    "SELECT type, path, size, sha256, piece, reuse, crc64nvme "
    "FROM files WHERE reuse = 1 ORDER BY seq"
)
_PIECE_AT = (
    "SELECT type, path, size, sha256, piece, reuse, crc64nvme "
    "FROM files WHERE piece = ? AND ord = ?"
)
_IN_PIECE = (
    "SELECT type, path, size, sha256, piece, reuse, crc64nvme, ord "
    "FROM files WHERE type = ? AND path = ? AND piece = ?"
)
_OF_PIECE = (
    "SELECT type, path, size, sha256, piece, reuse, crc64nvme "
    "FROM files WHERE piece = ? ORDER BY ord"
)

_SCHEMA = """
CREATE TABLE files (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    type TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    piece INTEGER,
    ord INTEGER NOT NULL,
    reuse INTEGER NOT NULL,
    crc64nvme TEXT,
    UNIQUE (type, path)
);
CREATE INDEX files_by_key ON files (key);
CREATE INDEX files_by_piece ON files (piece, ord);
"""


class FileSpool(SqliteSpool):
    """The file entries of one run, in the order they were added, spooled to a temporary file.

    Safe to read from several threads at once (the filer verifies pieces in parallel): every query
    runs under one lock, and iterations fetch in small batches, so they interleave.
    """

    def __init__(self, directory: str | None = None) -> None:
        super().__init__(_SCHEMA, prefix="artifact-spool-", directory=directory)
        self._db.execute("BEGIN")
        self._piece_ids: list[str] = []
        self._piece_no: dict[str, int] = {}
        self._piece_counts: list[int] = []
        self._types: dict[str, str] = {}
        self._count = 0
        self._bytes = 0
        self._reused = 0
        self._reused_bytes = 0
        self._sealed = False

    # -- writing ----------------------------------------------------------------------------------

    def add(self, entry: FileEntry, key: str) -> bool:
        """Add ``entry``, filed at archive ``key``; False (and nothing added) if its type and path
        are already listed."""
        with self._lock:
            return self._add(entry, key)

    def _add(self, entry: FileEntry, key: str) -> bool:
        if self._sealed:
            raise RuntimeError("the spool is sealed: entries are added before it is read")
        piece_no = None
        ordinal = 0
        if entry.piece is not None:
            piece_no = self._piece_no.get(entry.piece)
            if piece_no is None:
                piece_no = self._piece_no[entry.piece] = len(self._piece_ids)
                self._piece_ids.append(entry.piece)
                self._piece_counts.append(0)
            ordinal = self._piece_counts[piece_no]
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO files (key, type, path, size, sha256, piece, ord, reuse, crc64nvme) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, entry.type, entry.path, entry.size, entry.sha256, piece_no, ordinal,
             int(entry.reuse is not None), entry.crc64nvme),
        )
        if cursor.rowcount == 0:
            return False
        if piece_no is not None:
            self._piece_counts[piece_no] += 1
        self._types.setdefault(entry.type, entry.type)
        self._count += 1
        self._bytes += entry.size
        if entry.reuse is not None:
            self._reused += 1
            self._reused_bytes += entry.size
        return True

    def __contains__(self, name: object) -> bool:
        """Whether a ``(type, path)`` pair is listed."""
        if not isinstance(name, tuple) or len(name) != 2:
            return False
        with self._lock:
            row = self._db.execute("SELECT 1 FROM files WHERE type = ? AND path = ?", name).fetchone()
        return row is not None

    def seal(self) -> None:
        """End the adding: what was added is committed and from now on only read."""
        if not self._sealed:
            with self._lock:
                self._db.execute("COMMIT")
            self._sealed = True

    # -- reading ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._count

    @property
    def total_bytes(self) -> int:
        return self._bytes

    @property
    def reused_count(self) -> int:
        return self._reused

    @property
    def reused_bytes(self) -> int:
        return self._reused_bytes

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(sorted(self._types))

    def __iter__(self) -> Iterator[FileEntry]:
        """Every entry in the order it was added."""
        return self._entries(_IN_ORDER)

    def __getitem__(self, index: int) -> FileEntry:
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError("file index out of range")
        return next(self._entries(_AT, (index + 1,)))

    def in_name_order(self) -> Iterator[FileEntry]:
        """Every entry sorted by (type, path), as :func:`~artifact_contract.content_sha256` reads them."""
        return self._entries(_BY_NAME)

    def in_key_order(self) -> Iterator[tuple[FileEntry, str]]:
        """Every entry with its archive key, sorted by key, as the run record lists them."""
        return self._entries(_BY_KEY, with_key=True)

    def reused(self) -> Iterator[FileEntry]:
        """The entries that travel by reuse, in the order they were added."""
        return self._entries(_REUSED)

    def carried_by(self, piece_ids: Iterable[str], *, reused: bool = False) -> Iterator[FileEntry]:
        """The entries carried by any of ``piece_ids`` (and, with ``reused``, those travelling by
        reuse), in the order they were added."""
        numbers = sorted(self._piece_no[p] for p in set(piece_ids) if p in self._piece_no)
        condition = f"piece IN ({', '.join('?' * len(numbers))})" if numbers else "0"
        if reused:
            condition = f"({condition} OR reuse = 1)"
        # Only placeholders are formatted into the query; the piece numbers are bound.
        query = "SELECT " + _COLUMNS + " FROM files WHERE " + condition + " ORDER BY seq"  # noqa: S608
        return self._entries(query, numbers)

    def of_piece(self, piece_id: str) -> PieceFiles:
        """The entries carried by one piece, read from the spool as they are used."""
        number = self._piece_no.get(piece_id)
        return PieceFiles(self, number, 0 if number is None else self._piece_counts[number])

    def piece_ids(self) -> tuple[str, ...]:
        """The pieces named by some entry, in the order they were first named."""
        return tuple(self._piece_ids)

    def _entries(self, sql: str, params: Sequence[Any] = (), *, with_key: bool = False) -> Iterator[Any]:
        for row in self._fetch(sql, params):
            entry = self._entry(row)
            yield (entry, row[7]) if with_key else entry

    def _entry(self, row: Sequence[Any]) -> FileEntry:
        type_name, path, size, sha256, piece_no, reuse, crc = row[:7]
        type_name = self._types.get(type_name, type_name)
        if reuse:
            return FileEntry(type_name, path, size, sha256, None, Reuse(sha256), crc)
        piece = None if piece_no is None else self._piece_ids[piece_no]
        return FileEntry(type_name, path, size, sha256, piece, None, crc)

    def _piece_row(self, number: int, ordinal: int) -> FileEntry:
        return next(self._entries(_PIECE_AT, (number, ordinal)))

    def _find_in_piece(self, number: int, type_name: str, path: str) -> tuple[int, FileEntry] | None:
        with self._lock:
            row = self._db.execute(
                _IN_PIECE,
                (type_name, path, number),
            ).fetchone()
        return None if row is None else (row[7], self._entry(row))


class PieceFiles(Sequence[FileEntry]):
    """The files one piece carries, as a sequence read from the spool on demand.

    A pack of thousands of small files is verified and filed without its entries held at once:
    ``len`` is counted while spooling, an entry is fetched by its position, a pack member is found
    by its name (:meth:`find`), and iteration streams.
    """

    def __init__(self, spool: FileSpool, number: int | None, count: int) -> None:
        self._spool = spool
        self._number = number
        self._count = count

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> FileEntry: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[FileEntry]: ...

    def __getitem__(self, index: int | slice) -> FileEntry | Sequence[FileEntry]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if self._number is None or not 0 <= index < self._count:
            raise IndexError("file index out of range")
        return self._spool._piece_row(self._number, index)

    def __iter__(self) -> Iterator[FileEntry]:
        if self._number is None:
            return iter(())
        return self._spool._entries(_OF_PIECE, (self._number,))

    def find(self, member_name: str) -> tuple[int, FileEntry] | None:
        """The position and entry of the file named ``member_name`` (``type/path``) in this piece."""
        type_name, sep, path = member_name.partition("/")
        if not sep or self._number is None:
            return None
        return self._spool._find_in_piece(self._number, type_name, path)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"PieceFiles({list(self)!r})"


def member_finder(entries: Sequence[FileEntry]) -> Any:
    """A function giving a pack member's position and entry by name, for any sequence of entries.

    A spooled piece looks members up in its spool; a list (a test's, an in-memory manifest's) is
    indexed once in a dictionary.
    """
    find = getattr(entries, "find", None)
    if find is not None:
        return _listed_order_first(entries, find)
    by_name = {e.member_name: i for i, e in enumerate(entries)}

    def lookup(name: str) -> tuple[int, FileEntry] | None:
        index = by_name.get(name)
        return None if index is None else (index, entries[index])

    return lookup


def _listed_order_first(
    entries: Sequence[FileEntry], find: Callable[[str], tuple[int, FileEntry] | None]
) -> Callable[[str], tuple[int, FileEntry] | None]:
    """A spooled piece's finder that reads its entries in listed order alongside the pack.

    A pack's members come in the order its piece lists them (the client writes both in name
    order), so the next listed entry is nearly always the member: one batched read instead of a
    query per member. Any other name (out of order, twice, unlisted) is asked of the spool, so the
    answer is the spool's own in every case.
    """
    listed = iter(entries)
    upcoming: list[Any] = [next(listed, None), 0]  # the next listed entry and its position

    def lookup(name: str) -> tuple[int, FileEntry] | None:
        entry, position = upcoming
        if entry is not None and entry.member_name == name:
            upcoming[0], upcoming[1] = next(listed, None), position + 1
            return position, entry
        return find(name)

    return lookup
