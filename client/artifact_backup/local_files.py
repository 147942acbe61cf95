"""The files a run will send, spooled to disk as they are found, read back in (type, path) order.

A run may hold 200,000 files; as objects they cost a few hundred bytes each, held from the walk to
the commit. Here they live in a temporary SQLite file with a small page cache (the standard
library's, like the contract's :class:`~artifact_contract.FileSpool`), whose unique index on
(type, path) is also the order every step reads them in: the plan, the packs, the fingerprint.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from artifact_contract.sqlite_spool import SqliteSpool

if TYPE_CHECKING:
    from .collect import LocalFile

_SCHEMA = """
CREATE TABLE files (
    type TEXT NOT NULL,
    path TEXT NOT NULL,
    location BLOB NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    PRIMARY KEY (type, path)
) WITHOUT ROWID;
"""
_ALL = "SELECT type, path, location, size, mtime_ns FROM files ORDER BY type, path"
_ONE = "SELECT type, path, location, size, mtime_ns FROM files WHERE type = ? AND path = ?"
_RANGE = (
    "SELECT type, path, location, size, mtime_ns FROM files "
    "WHERE (type, path) >= (?, ?) AND (type, path) <= (?, ?) AND size < ? ORDER BY type, path"
)
_AT = "SELECT type, path, location, size, mtime_ns FROM files ORDER BY type, path LIMIT 1 OFFSET ?"


class LocalFiles(SqliteSpool, Sequence["LocalFile"]):
    """A run's local files, unique by (type, path), iterated in that order; close it when done."""

    _holds = "file list"

    def __init__(self, directory: str | None = None) -> None:
        super().__init__(_SCHEMA, prefix="artifact-files-", directory=directory)
        self._count = 0
        self._bytes = 0
        self._per_type: dict[str, list[int]] = {}
        self._types: dict[str, str] = {}
        from .collect import LocalFile  # collect makes these spools: imported once it is loaded

        self._make = LocalFile

    @classmethod
    def of(cls, files: Iterable[LocalFile]) -> LocalFiles:
        """A spool of ``files`` (a list's, a test's); a later file of the same name replaces one."""
        spool = cls()
        for f in files:
            spool.put(f)
        return spool

    def put(self, f: LocalFile) -> LocalFile | None:
        """Add ``f``, replacing the file of the same type and path; returns the one replaced."""
        with self._lock:
            row = self._db.execute(_ONE, (f.type, f.path)).fetchone()
            self._db.execute(
                "INSERT OR REPLACE INTO files (type, path, location, size, mtime_ns) VALUES (?, ?, ?, ?, ?)",
                # A folder's name need not be UTF-8: the location is kept as the bytes it names.
                (f.type, f.path, os.fsencode(f.location), f.size, f.mtime_ns),
            )
            old = None if row is None else self._file(row)
            counts = self._per_type.setdefault(f.type, [0, 0])
            self._types.setdefault(f.type, f.type)
            if old is not None:
                counts[0] -= 1
                counts[1] -= old.size
                self._count -= 1
                self._bytes -= old.size
            counts[0] += 1
            counts[1] += f.size
            self._count += 1
            self._bytes += f.size
        return old

    def remove(self, type_name: str, path: str) -> LocalFile | None:
        """Take the file of this type and path out of the list; returns it (None: there was none)."""
        with self._lock:
            row = self._db.execute(_ONE, (type_name, path)).fetchone()
            if row is None:
                return None
            self._db.execute("DELETE FROM files WHERE type = ? AND path = ?", (type_name, path))
            old = self._file(row)
            counts = self._per_type[old.type]
            counts[0] -= 1
            counts[1] -= old.size
            self._count -= 1
            self._bytes -= old.size
        return old

    def get(self, type_name: str, path: str) -> LocalFile | None:
        with self._lock:
            row = self._db.execute(_ONE, (type_name, path)).fetchone()
        return None if row is None else self._file(row)

    def __len__(self) -> int:
        return self._count

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def count_of(self, type_name: str) -> int:
        return self._per_type.get(type_name, [0, 0])[0]

    def bytes_of(self, type_name: str) -> int:
        return self._per_type.get(type_name, [0, 0])[1]

    def __iter__(self) -> Iterator[LocalFile]:
        return self._rows(_ALL, ())

    def between(self, first: tuple[str, str], last: tuple[str, str], below: int) -> Iterator[LocalFile]:
        """The files from ``first`` to ``last`` (type, path) inclusive, smaller than ``below`` bytes."""
        return self._rows(_RANGE, (*first, *last, below))

    def __getitem__(self, index: Any) -> Any:  # for tests and small runs: a scan to the index
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError("file index out of range")
        with self._lock:
            row = self._db.execute(_AT, (index,)).fetchone()
        return self._file(row)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LocalFiles({self._count} files)"

    def _rows(self, sql: str, params: Sequence[Any]) -> Iterator[LocalFile]:
        return map(self._file, self._fetch(sql, params))

    def _file(self, row: Sequence[Any]) -> LocalFile:
        type_name, path, location, size, mtime_ns = row
        return self._make(self._types.get(type_name, type_name), path, os.fsdecode(location), size,
                          mtime_ns)
