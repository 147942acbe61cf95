"""Which names a download can write, decided before anything is written.

An archive key may hold names a folder cannot: on Windows the device names (``CON``, ``NUL``,
``AUX``, ``COM1``, ``LPT1`` ..., with any extension), the characters ``<>:"|?*\\`` and control
characters, and a trailing dot or space (Windows drops it); and on a case-insensitive folder
(every Windows folder, macOS by default, a casefolded Linux folder) two names that differ only in
case are one file. A file that is a folder in another key cannot be written either, nor a name
longer than 255 characters (Windows) or bytes (elsewhere).

The rule: Windows's name rules apply on Windows; case is compared as the destination compares it,
found by probing the destination (Windows: always insensitive). A download with such names stops
before writing anything and names the files; with ``safe_names`` each is written under a safe name
instead (a forbidden character becomes ``_``, a device name gets ``_`` after its stem, a second
name of one spelling gets ``~2`` before its extension) and the result says which.
"""

from __future__ import annotations

import errno
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import DestinationNameError, DestinationWriteError
from ..paths import discard

_DEVICES = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
            *(f"{port}{n}" for port in ("COM", "LPT") for n in (*"123456789", "\u00b9", "\u00b2", "\u00b3"))}
_FORBIDDEN = re.compile(r'[<>:"|?*\\\x00-\x1f]')


@dataclass(frozen=True)
class NameRules:
    """What the destination refuses: Windows's names, and names that differ only in case."""

    windows: bool
    case_insensitive: bool

    def fold(self, path: str) -> str:
        """A name as a case-insensitive folder compares it: each character upper-cased on its own,
        as NTFS's table does (``ß`` stays ``ß``: ``straße`` and ``strasse`` are two files)."""
        if not self.case_insensitive:
            return path
        return "".join(u if len(u := c.upper()) == 1 else c for c in path)


@dataclass(frozen=True)
class Renamed:
    """A file written under another name than its archive name, and why."""

    name: str
    safe_name: str
    problem: str


def rules_for(destination: str | os.PathLike[str], platform: str | None = None) -> NameRules:
    """Windows's rules on Windows; elsewhere case is compared as the destination's file system
    compares it (probed)."""
    if (platform or sys.platform) == "win32":
        return NameRules(windows=True, case_insensitive=True)
    return NameRules(windows=False, case_insensitive=probe_case_insensitive(destination))


def probe_case_insensitive(destination: str | os.PathLike[str]) -> bool:
    """Whether the folder a download goes to (or its nearest existing parent) compares names
    without case: a probe file is made there, looked up in upper case and removed."""
    folder = Path(destination).absolute()
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    try:
        handle, name = tempfile.mkstemp(prefix=".artifact-backup-case-", dir=folder)
    except OSError:
        return False  # nothing can be written there: the download says so when it tries
    os.close(handle)
    try:
        probe = Path(name)
        return (probe.parent / probe.name.upper()).exists()
    finally:
        discard(name, "probe file")


#: The longest name a folder entry may have: 255 UTF-16 units on Windows (NTFS), 255 bytes on the
#: usual POSIX file systems; a few are kept free for the ``~N`` a second spelling may need.
NAME_MAX = 255
_NAME_ROOM = 8


def _name_size(segment: str, windows: bool) -> int:
    if windows:
        return len(segment.encode("utf-16-le", "surrogatepass")) // 2
    return len(segment.encode("utf-8", "surrogateescape"))


def segment_problem(segment: str, windows: bool) -> str | None:
    """Why the destination cannot hold a file or folder of this name (None: it can)."""
    if _name_size(segment, windows) > NAME_MAX:
        unit = "characters" if windows else "bytes"
        return f"is longer than the {NAME_MAX} {unit} a name may have"
    if not windows:
        return None
    bad = sorted(set(_FORBIDDEN.findall(segment)))
    if bad:
        shown = " ".join(repr(c)[1:-1] if c < " " else c for c in bad)
        return f"holds {shown}, which Windows does not allow in a name"
    if segment.endswith((".", " ")):
        return "ends with a dot or a space, which Windows drops"
    stem = segment.split(".", 1)[0].rstrip(" ").upper()
    if stem in _DEVICES:
        return f"{stem} is a device name on Windows"
    return None


def safe_segment(segment: str, windows: bool) -> str:
    if segment_problem(segment, windows) is None:
        return segment
    if windows:
        segment = _FORBIDDEN.sub("_", segment)
        stripped = segment.rstrip(". ")
        segment = stripped + "_" * (len(segment) - len(stripped))
        stem, dot, rest = segment.partition(".")
        if stem.rstrip(" ").upper() in _DEVICES:
            segment = f"{stem}_{dot}{rest}"
    return _shortened(segment, windows)


def _shortened(segment: str, windows: bool) -> str:
    """A name cut to fit, its extension kept (when it is short), with room left for a ``~N``."""
    limit = NAME_MAX - _NAME_ROOM
    if _name_size(segment, windows) <= NAME_MAX:
        return segment
    stem, dot, ext = segment.rpartition(".")
    if not dot or not stem or len(ext) > 16:
        stem, dot, ext = segment, "", ""
    tail = dot + ext
    while stem and _name_size(stem + tail, windows) > limit:
        stem = stem[:-1]
    shortened = stem + tail
    # A cut that leaves a trailing dot or space would be refused again on Windows.
    return shortened if not windows or segment_problem(shortened, windows) is None else shortened + "_"


def _numbered(path: str, n: int) -> str:
    folder, _, name = path.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    name = f"{stem}~{n}.{ext}" if dot and stem else f"{name}~{n}"
    return f"{folder}/{name}" if folder else name


def plan_names(paths: Sequence[str], rules: NameRules) -> list[Renamed | None]:
    """For each relative path (``/``-separated, in the download's order), None when it can be
    written as it is, else the safe name it would need. Names that need no change are kept first,
    so a file never loses its name to another's safe name."""
    safe = ["/".join(safe_segment(s, rules.windows) for s in p.split("/")) for p in paths]
    problems: list[str | None] = [None] * len(paths)
    for i, path in enumerate(paths):
        problems[i] = next((f"{s!r}: {why}" for s in path.split("/")
                            if (why := segment_problem(s, rules.windows))), None)
    folders = {rules.fold(p[:i]) for p in safe for i in range(len(p)) if p[i] == "/"}
    taken: dict[str, int] = {}
    waiting: list[int] = []
    for i, path in enumerate(safe):
        key = rules.fold(path)
        if problems[i] is None and key not in taken and key not in folders:
            taken[key] = i
        else:
            waiting.append(i)
    for i in waiting:
        key = rules.fold(safe[i])
        if problems[i] is None:
            other = taken.get(key)
            problems[i] = (f"same name as {paths[other]} where case is not told apart" if other is not None
                           else "a folder of that name holds other files of the run")
        n, candidate = 2, safe[i]
        while rules.fold(candidate) in taken or rules.fold(candidate) in folders:
            candidate, n = _numbered(safe[i], n), n + 1
        safe[i] = candidate
        taken[rules.fold(candidate)] = i
    return [None if problems[i] is None else Renamed(paths[i], safe[i], problems[i] or "")
            for i in range(len(paths))]


def refuse(renamed: Sequence[tuple[str, Renamed]],
           destination: str | os.PathLike[str]) -> DestinationNameError:
    """The error that stops a download whose names the destination cannot hold; ``renamed`` pairs
    each file's run with its plan."""
    first_run, first = renamed[0]
    if len(renamed) == 1:
        what = f"{first.name} of run {first_run} cannot be written under its own name"
    else:
        what = (f"{len(renamed)} files cannot be written under their own names (the first: "
                f"{first.name} of run {first_run})")
    shown = "\n".join(f"  {r.name}: {r.problem} (safe name: {r.safe_name})" for _run, r in renamed[:20])
    if len(renamed) > 20:
        shown += f"\n  ... and {len(renamed) - 20} more (--json lists them all)"
    return DestinationNameError(
        f"{what} in {os.fspath(destination)}: {first.problem}; nothing was downloaded",
        files=[{"file": r.name, "run": run, "problem": r.problem, "safe_name": r.safe_name}
               for run, r in renamed],
        hint=f"{shown}\ndownload with --safe-names to write these files under the safe names shown "
             "(the others keep theirs); of two names that differ only in case, one can also be "
             "fetched alone into another folder with --file TYPE/PATH --to DIR",
    )


def write_error(path: str | os.PathLike[str], exc: OSError) -> DestinationWriteError:
    """A destination that cannot be written, named with the likely fix."""
    where = os.fspath(path)
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.EACCES, errno.EBUSY, errno.ETXTBSY, errno.EPERM) or \
            getattr(exc, "winerror", None) in (5, 32, 33):
        return DestinationWriteError(
            f"cannot write {where}: {reason} (another program has it open, or it is read-only)",
            hint="close the program that has the file open (an editor, a viewer, Excel, ArcGIS) or make "
                 "it writable, then run the same download again: files already downloaded are kept",
        )
    return DestinationWriteError(
        f"cannot write {where}: {reason}",
        hint="check the folder (free space, permissions, the length and characters of names it "
             "accepts), then run the same download again: files already downloaded are kept",
    )


#: Pauses before trying a rename again on Windows: a virus scanner or an indexer opens a file the
#: moment it is written and holds it for a moment; a program that keeps the file open outlasts them.
RENAME_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.8)


class Placed:
    """The files a download has put in place, by file identity (device, file number), so that no
    file replaces another where the folder compares names in a way the name check did not foresee."""

    def __init__(self, *, windows: bool | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self._names: dict[tuple[int, int], str] = {}
        self._pauses = RENAME_PAUSES if (sys.platform == "win32" if windows is None else windows) else ()
        self._sleep = sleep

    @staticmethod
    def _identity(path: Path) -> tuple[int, int] | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        return (st.st_dev, st.st_ino) if st.st_ino else None

    def add(self, path: Path, name: str) -> str | None:
        """Record ``path`` as ``name``'s; returns the other file's name when it is already one's."""
        identity = self._identity(path)
        if identity is None:
            return None
        other = self._names.setdefault(identity, name)
        return None if other == name else other

    def put(self, temp: Path, target: Path, shown: str | os.PathLike[str], name: str) -> str | None:
        """Rename ``temp`` to ``target`` unless ``target`` is a file put there for another name
        (returned, and ``temp`` removed). A target another program holds raises
        :class:`DestinationWriteError` naming ``shown``."""
        identity = self._identity(target)
        if identity is not None and self._names.get(identity, name) != name:
            discard(temp, "partial download")
            return self._names[identity]
        try:
            self._replace(temp, target)
        except OSError as exc:
            discard(temp, "partial download")
            raise write_error(shown, exc) from None
        return self.add(target, name)

    def _replace(self, temp: Path, target: Path) -> None:
        for pause in self._pauses:
            try:
                os.replace(temp, target)
            except PermissionError:
                self._sleep(pause)
            else:
                return
        os.replace(temp, target)
