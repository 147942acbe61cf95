"""How Windows names and compares paths, written once so every step agrees.

Each function takes the path flavour (``ntpath`` or ``posixpath``) as a parameter and defaults to
this system's, so Windows behaviour is checked on any machine and the real system decides at run
time:

* a folder's identity is what Windows compares: ``D:/Proj`` and ``d:\\proj\\`` are one folder;
* paths of 260 characters or more need the ``\\\\?\\`` prefix for file I/O on Windows, unless the
  machine has long paths enabled (it costs nothing to add it there too);
* NTFS junctions are reparse points that ``is_symlink()`` does not report: they are told apart
  from a folder by the reparse tag ``lstat`` gives;
* a temporary file that cannot be removed (a virus scanner holds it) is reported, not raised over
  the result it served.
"""

from __future__ import annotations

import logging
import ntpath
import os
import posixpath
import stat
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

log = logging.getLogger("artifact_backup")

#: Windows refuses a path of this many characters or more to the plain file API (MAX_PATH, with its
#: NUL); a folder is refused from 248 on (room for an 8.3 file name), so the prefix starts there.
LONG_PATH = 248
_EXTENDED = "\\\\?\\"
_EXTENDED_UNC = "\\\\?\\UNC\\"

#: ``stat.IO_REPARSE_TAG_MOUNT_POINT``: an NTFS junction (or a mounted volume) as lstat reports it.
REPARSE_MOUNT_POINT = 0xA0000003
REPARSE_SYMLINK = 0xA000000C


def flavour_of(windows: bool | None = None) -> ModuleType:
    """``ntpath`` on Windows (or when asked), else ``posixpath``."""
    if windows is None:
        windows = sys.platform == "win32"
    return ntpath if windows else posixpath


def folder_identity(path: str | os.PathLike[str], flavour: ModuleType = os.path) -> str:
    """The folder as the system compares it: absolute, normalised, and case-folded where names are
    (``ntpath``). Two spellings of one folder give one identity. A relative path is made absolute
    only in this system's own flavour (another system's current folder is unknown)."""
    text = os.fspath(path)
    if flavour is ntpath:
        text = strip_extended(text).replace("/", "\\")
    if flavour is os.path:
        text = os.path.abspath(text)
    return flavour.normcase(flavour.normpath(text))


def extended_path(path: str | os.PathLike[str], flavour: ModuleType = ntpath, *,
                  limit: int = LONG_PATH) -> str:
    """``path`` with the ``\\\\?\\`` prefix when it is absolute, Windows and at least ``limit``
    characters long (``\\\\?\\UNC\\server\\share`` for a share); otherwise unchanged.

    The prefixed form is not normalised by Windows, so it is made absolute and normal here first
    (forward slashes, ``..``)."""
    text = os.fspath(path)
    if flavour is not ntpath or text.startswith(_EXTENDED) or len(text) < limit:
        return text
    text = ntpath.normpath(text.replace("/", "\\"))
    drive, _ = ntpath.splitdrive(text)
    if not drive or not ntpath.isabs(text):
        return text
    if text.startswith("\\\\"):
        return _EXTENDED_UNC + text[2:]
    return _EXTENDED + text


def strip_extended(path: str) -> str:
    """A path as a person typed it: without the ``\\\\?\\`` prefix :func:`extended_path` adds."""
    if path.startswith(_EXTENDED_UNC):
        return "\\\\" + path[len(_EXTENDED_UNC):]
    if path.startswith(_EXTENDED):
        return path[len(_EXTENDED):]
    return path


def io_path(path: str | os.PathLike[str]) -> str:
    """The form of ``path`` this system's file I/O accepts: the long-path form on Windows."""
    if sys.platform != "win32":
        return os.fspath(path)
    return extended_path(os.path.abspath(path), ntpath)


def is_link_like(st: Any) -> bool:
    """Whether an ``lstat`` result is a link of any kind: a symbolic link, or a reparse point that
    redirects (an NTFS junction, whose ``S_ISLNK`` is false). Other reparse points, such as cloud
    placeholders and deduplicated files, are ordinary files and folders to the user."""
    if stat.S_ISLNK(st.st_mode):
        return True
    tag = getattr(st, "st_reparse_tag", 0) or 0
    return tag in (REPARSE_MOUNT_POINT, REPARSE_SYMLINK)


def is_junction(entry: os.DirEntry[str], *, windows: bool | None = None) -> bool:
    """An NTFS junction (never a symbolic link): ``DirEntry.is_junction`` where Python has it
    (3.12), else the reparse tag of the entry's lstat (Windows only: ``windows`` says so)."""
    check = getattr(entry, "is_junction", None)
    if check is not None and check():
        return True
    if not (sys.platform == "win32" if windows is None else windows):
        return False
    st = entry.stat(follow_symlinks=False)
    return not stat.S_ISLNK(st.st_mode) and is_link_like(st)


def discard(path: str | os.PathLike[str], what: str = "temporary file") -> OSError | None:
    """Remove ``path`` if it is there; a failure (a virus scanner or an indexer holding the file on
    Windows) is logged and returned, never raised over the outcome the file served."""
    try:
        Path(path).unlink(missing_ok=True)
    except OSError as exc:
        log.warning("cannot remove the %s %s (remove it by hand): %s", what, os.fspath(path),
                    exc.strerror or exc)
        return exc
    return None
