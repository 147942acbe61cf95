"""Rows kept on disk rather than in memory: the base of every spool of the contract, the client
and the filer, so that what a run lists never has to fit in memory."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Self

from .tempfiles import discard, temporary_database

#: SQLite's page cache per spool, in KiB (a negative ``cache_size`` is KiB): the memory a spool
#: holds whatever the number of its rows.
CACHE_KIB = 2048
#: Rows fetched per round trip while iterating: small, so an iteration holds a few hundred
#: rows at most.
_BATCH = 256


class SqliteSpool:
    """A temporary SQLite database holding ``schema``, gone once closed, with a small page cache.

    The contract's ``FileSpool``, the client's ``LocalFiles`` and the filer's ``WrittenVersions``
    are all made so: one place decides how (pragmas, clean-up, batched reads that several threads
    may interleave).
    """

    #: What the spool holds, for the error of a read after :meth:`close`.
    _holds = "spool"

    def __init__(self, schema: str, *, prefix: str, directory: str | None = None) -> None:
        self._lock = threading.Lock()
        self._closed = False
        self._db, self._leftover = temporary_database(directory, prefix=prefix)
        try:
            for pragma in (f"cache_size = -{CACHE_KIB}", "journal_mode = OFF", "synchronous = OFF",
                           "temp_store = FILE", "locking_mode = EXCLUSIVE"):
                self._db.execute(f"PRAGMA {pragma}")
            self._db.executescript(schema)
        except BaseException:
            self.close()
            raise

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Sequence[Any]]:
        """The rows of a query, fetched a batch at a time under the lock."""
        if self._closed:
            raise ValueError(f"the {self._holds} is closed")
        with self._lock:
            cursor = self._db.execute(sql, params)
        try:
            while True:
                with self._lock:
                    rows = cursor.fetchmany(_BATCH)
                if not rows:
                    return
                yield from rows
        finally:
            # A reading left half-way may be collected after the spool closed, its cursor with it.
            with self._lock, contextlib.suppress(sqlite3.ProgrammingError):
                cursor.close()

    def close(self) -> None:
        """Free the spool's file now (idempotent)."""
        if not self._closed:
            self._closed = True
            with self._lock, contextlib.suppress(sqlite3.Error):
                self._db.close()
            if self._leftover is not None:
                discard(self._leftover)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # a spool nobody closed still goes with its last reference
        with contextlib.suppress(Exception):
            self.close()
