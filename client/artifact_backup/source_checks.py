"""What a file's name and permission bits do not tell: whether it can really be read now, and whether
it is a lock ArcGIS keeps inside a geodatabase it has open.

* On Windows a program can hold a file open with no sharing (``CreateFileW`` share mode 0); the
  permission bits, and so ``os.access``, still say it is readable, and reading fails only when the
  upload reaches it. Opening it (and closing it at once, nothing read) finds that during collection.
* ArcGIS keeps ``*.lock`` files inside a file geodatabase (``.gdb`` folder) while it has it open:
  ``….sr.lock`` while it is shown, ``….ed.lock`` while it is edited, ``….wr.lock`` while it is
  written. They are not data (and vanish when ArcGIS closes it), so they are not archived; their
  presence says the geodatabase was in use, and an edit or write lock that its files may be caught
  halfway through a change.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping

_LOCK_SUFFIX = ".lock"
#: Locks taken while a geodatabase is being changed: its files may not agree with each other.
CHANGING_LOCKS = frozenset({"ed", "wr"})


def unreadable_reason(path: str) -> str | None:
    """Open ``path`` for reading and close it: None when that works, else why not in words."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        handle = os.open(path, flags)
    except OSError as exc:
        return reason_of(exc)
    os.close(handle)
    return None


def reason_of(exc: OSError) -> str:
    if getattr(exc, "winerror", None) in (32, 33):
        return "another program has it open exclusively"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied, or another program has it open exclusively"
    return exc.strerror or str(exc)


def geodatabase_lock(relative: str) -> tuple[str, str] | None:
    """For an ArcGIS lock file inside a ``.gdb`` folder, (the geodatabase's relative path, the lock's
    kind: ``sr``, ``ed``, ``wr``, ...); None for any other file."""
    folders, _, name = relative.rpartition("/")
    if not name.lower().endswith(_LOCK_SUFFIX) or not folders:
        return None
    segments = folders.split("/")
    for i in range(len(segments) - 1, -1, -1):
        if segments[i].lower().endswith(".gdb"):
            kind = name[: -len(_LOCK_SUFFIX)].rpartition(".")[2].lower()
            return "/".join(segments[: i + 1]), kind
    return None


def geodatabase_warnings(artifact_type: str, locks: Mapping[str, set[str]]) -> list[str]:
    """One warning per geodatabase found in use: stronger when it was being edited or written."""
    warnings = []
    for gdb, kinds in sorted(locks.items()):
        if kinds & CHANGING_LOCKS:
            warnings.append(
                f"{artifact_type}/{gdb} was being edited in ArcGIS (an edit or write lock was found): "
                "its archived copy may hold a change halfway; stop editing or close ArcGIS, then upload again"
            )
        else:
            warnings.append(
                f"{artifact_type}/{gdb} was in use (open in ArcGIS): its lock files are not archived")
    return warnings
