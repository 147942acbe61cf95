"""The resume journal: what lets an interrupted upload continue where it stopped.

One small JSON file per upload *command* (staging bucket, project key, folder, types, timestamp
choice), in the user's cache folder. It holds the run id, the run timestamp and a fingerprint of the
file set (paths, sizes, modification times). Re-running the same command on the same files reuses
the run id and timestamp, so ``--timestamp`` resumes into the same run and only missing pieces are
sent; a changed file set starts a new run. The journal is removed once the filer's receipt arrives
(or, with ``--no-wait``, once the run is committed).

The journal is a convenience: if the cache folder cannot be written, uploads still work, they just
cannot resume.

Location: ``$ARTIFACT_BACKUP_CACHE_DIR``, else ``$XDG_CACHE_HOME/artifact-backup``, else
``%LOCALAPPDATA%\\artifact-backup`` on Windows, else ``~/.cache/artifact-backup``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .collect import LocalFile
from .local_files import LocalFiles
from .paths import discard, flavour_of, folder_identity

log = logging.getLogger("artifact_backup")

JOURNAL_VERSION = 1


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("ARTIFACT_BACKUP_CACHE_DIR"):
        return Path(env["ARTIFACT_BACKUP_CACHE_DIR"])
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "artifact-backup"
    if os.name == "nt" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "artifact-backup"
    return Path.home() / ".cache" / "artifact-backup"


def fingerprint(files: Iterable[LocalFile]) -> str:
    """Identity of a file set as the file system sees it, without reading any content."""
    digest = hashlib.sha256()
    # A spooled list is read in (type, path) order already: a large run is not sorted in memory.
    ordered = files if isinstance(files, LocalFiles) else sorted(files, key=lambda f: (f.type, f.path))
    for f in ordered:
        line = f"{f.type}\0{f.path}\0{f.location}\0{f.size}\0{f.mtime_ns}\n"
        digest.update(line.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


@dataclass(frozen=True)
class JournalEntry:
    run_id: str
    timestamp: str | None
    fingerprint: str
    created: float
    committed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": JOURNAL_VERSION,
            "run_id": self.run_id,
            "timestamp": self.timestamp,
            "fingerprint": self.fingerprint,
            "created": self.created,
            "committed": self.committed,
        }


def folder_key(folder: str | os.PathLike[str], *, windows: bool | None = None) -> str:
    """The folder as the system compares folders: on Windows ``D:/Proj`` and ``d:\\proj\\`` are one
    folder, so one upload command however it was typed."""
    identity = folder_identity(folder, flavour_of(windows))
    return os.fsencode(identity).decode("utf-8", "surrogateescape")


class Journal:
    """Reads and writes journal entries; every failure is logged and otherwise ignored."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir() / "runs"

    @staticmethod
    def key(
        *,
        staging_bucket: str,
        project_key: str,
        folder: Path,
        types: Iterable[str],
        folder_type: str | None,
        timestamp_mode: str,
        timestamp_value: str | None,
    ) -> str:
        identity = json.dumps(
            [
                staging_bucket,
                project_key,
                folder_key(folder),
                sorted(types),
                folder_type,
                timestamp_mode,
                timestamp_value,
            ],
            ensure_ascii=True,
        )
        return hashlib.sha256(identity.encode()).hexdigest()[:40]

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def load(self, key: str, *, max_age: float | None = None) -> JournalEntry | None:
        path = self._path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entry = JournalEntry(
                run_id=str(data["run_id"]),
                timestamp=data.get("timestamp"),
                fingerprint=str(data["fingerprint"]),
                created=float(data["created"]),
                committed=bool(data.get("committed", False)),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable resume journal %s: %s", path, exc)
            return None
        if data.get("version") != JOURNAL_VERSION:
            return None
        if max_age is not None and time.time() - entry.created > max_age:
            log.info("resume journal %s is too old to resume; starting a new run", path)
            return None
        return entry

    def save(self, key: str, entry: JournalEntry) -> None:
        path = self._path(key)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(entry.to_dict()), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("cannot write the resume journal %s (an interrupted upload will start over): %s",
                        path, exc)
            discard(path.with_suffix(f".{os.getpid()}.tmp"), "resume journal")

    def clear(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot remove the resume journal %s: %s", self._path(key), exc)


class NullJournal(Journal):
    """No resuming: for callers that manage retries themselves."""

    def __init__(self) -> None:
        super().__init__(Path(os.devnull))

    def load(self, key: str, *, max_age: float | None = None) -> JournalEntry | None:
        return None

    def save(self, key: str, entry: JournalEntry) -> None:
        return None

    def clear(self, key: str) -> None:
        return None
