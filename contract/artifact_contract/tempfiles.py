"""Temporary files that go away on every platform, and whose removal never hides a real error.

POSIX lets a process delete a file it holds open: the name goes at once and the space with the last
handle, so nothing is left behind even by a process that dies. Windows refuses to delete a file any
process holds open (``WinError 32``, a sharing violation), including a virus scanner or an indexer
reading a file just written. So here a temporary database is SQLite's own (which Windows deletes
when its handle closes, even if the process is killed), and a temporary file is removed with
:func:`discard`, which retries a moment and then gives up without raising: a clean-up that fails
must not replace the error, or the result, of the work it cleans up after.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Callable

#: Pauses between attempts at deleting a file some other process still holds (a scanner lets go
#: within a fraction of a second): 0.35 s in all, on the error path only.
_RETRY_PAUSES = (0.05, 0.1, 0.2)


def discard(
    path: str | os.PathLike[str], *, sleep: Callable[[float], None] = time.sleep
) -> bool:
    """Delete ``path`` if it exists; False if it is still there, and never an exception.

    A file that cannot be deleted (held open elsewhere on Windows, or no permission) is tried again
    after short pauses; the caller may name it in a warning, but the work it was part of has its
    own outcome, which a clean-up error must not mask.
    """
    for pause in (*_RETRY_PAUSES, None):
        try:
            os.unlink(path)
        except FileNotFoundError:
            return True
        except OSError:
            if pause is None:
                return False
            sleep(pause)
        else:
            return True
    return False  # pragma: no cover - the loop returns


def temporary_database(
    directory: str | None = None, *, prefix: str = "artifact-"
) -> tuple[sqlite3.Connection, str | None]:
    """A connection to a new, empty, private SQLite database on disk, gone once it is closed.

    Returns the connection and the name of a file the caller must :func:`discard` after closing it
    (None when there is nothing to do). Without ``directory`` the database is SQLite's own temporary
    one, in the system's temporary folder (``TMP``/``TEMP`` on Windows, ``TMPDIR`` elsewhere):
    SQLite opens it delete-on-close on Windows and unlinks it once open elsewhere, so not even a
    killed process leaves it behind. In a given ``directory`` the file is deleted once open where
    the system allows it (POSIX), else when the caller discards it after closing (Windows).
    """
    if directory is None:
        return sqlite3.connect("", check_same_thread=False, isolation_level=None), None
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".sqlite", dir=directory)
    os.close(fd)
    try:
        db = sqlite3.connect(name, check_same_thread=False, isolation_level=None)
    except BaseException:
        discard(name)
        raise
    try:
        os.unlink(name)  # POSIX: the open file lives on without a name until the connection closes
    except OSError:
        return db, name  # Windows: an open file cannot be deleted; the caller does once it is closed
    return db, None
