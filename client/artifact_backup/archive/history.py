"""Which files of an untimestamped upload a later one replaced.

An upload without a timestamp files to ``{project}/{type}/{path}``, keys that always hold the latest
copy: the next such upload of the same file replaces the object, and the earlier copy lives on as a
noncurrent S3 version, which the earlier run's record names (``RecordedFile.version_id``). So a
project's earlier untimestamped runs stay readable, and ``runs``, ``show`` and ``verify`` say which
of their files were superseded, and by which run.

Supersession is read from the records alone: of two untimestamped runs that recorded the same key,
the one filed later (its record's ``created_at``, then its run id) superseded the other. Records
written before version ids existed name no version: their superseded files can no longer be read
through them, which is said rather than reported as damage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from artifact_contract import RecordInvalidError, RunRecord, parse_runs_key, runs_prefix

from ._s3 import list_objects, parallel_map


@dataclass(frozen=True)
class Superseded:
    """One file of an untimestamped run that a later untimestamped run wrote again."""

    key: str
    type: str
    path: str
    #: The run that wrote the key next, and when it was filed.
    by_run_id: str
    by_created_at: str
    #: The version this run's record names (None: a record older than version ids).
    version_id: str | None
    #: Whether the later run's copy holds the same bytes (the same SHA-256).
    same_content: bool

    @property
    def readable(self) -> bool:
        """Whether this run's own copy can still be read (its record names the version)."""
        return self.version_id is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "type": self.type,
            "path": self.path,
            "superseded_by": self.by_run_id,
            "superseded_at": self.by_created_at,
            "version_id": self.version_id,
            "same_content": self.same_content,
            "readable": self.readable,
        }

    def text(self) -> str:
        """One line for people."""
        what = "the same bytes" if self.same_content else "new content"
        how = ("this run's copy is kept as version " + str(self.version_id) if self.readable else
               "this run's record predates version ids, so its copy is not named and cannot be read "
               "through it")
        return f"{self.type}/{self.path}: superseded by run {self.by_run_id} ({what}); {how}"


def _filed_order(record: RunRecord) -> tuple[str, str]:
    return record.created_at, record.run_id


def supersessions(records: Iterable[RunRecord]) -> dict[str, dict[str, Superseded]]:
    """Run id -> key -> how each untimestamped run's files were superseded (runs with none absent)."""
    untimestamped = sorted((r for r in records if r.timestamp is None), key=_filed_order)
    next_writer: dict[str, tuple[RunRecord, str]] = {}  # key -> the later run that wrote it, its sha256
    found: dict[str, dict[str, Superseded]] = {}
    for record in reversed(untimestamped):
        for f in record.files:
            later = next_writer.get(f.key)
            if later is not None:
                by, sha256 = later
                found.setdefault(record.run_id, {})[f.key] = Superseded(
                    f.key, f.type, f.path, by.run_id, by.created_at, f.version_id, sha256 == f.sha256)
            next_writer[f.key] = (record, f.sha256)
    return found


def untimestamped_records(client: Any, bucket: str, project_key: str, *,
                          workers: int = 10) -> list[RunRecord]:
    """Every readable untimestamped run record of the project (unreadable ones are ``runs``' to report)."""
    from .runs import read_record

    keys = [o.key for o in list_objects(client, bucket, runs_prefix(project_key))
            if (found := parse_runs_key(project_key, o.key)) is not None
            and found.kind == "record" and found.timestamp is None]

    def load(key: str) -> RunRecord | None:
        try:
            return read_record(client, bucket, key)
        except RecordInvalidError:
            return None

    return [r for r in parallel_map(load, keys, workers) if r is not None]


def superseded_files(client: Any, bucket: str, record: RunRecord, *,
                     workers: int = 10) -> Mapping[str, Superseded]:
    """How one run's files were superseded: nothing for a timestamped run (its keys are its own)."""
    if record.timestamp is not None:
        return {}
    others = untimestamped_records(client, bucket, record.project_key, workers=workers)
    if not any(r.run_id == record.run_id for r in others):
        others.append(record)
    return supersessions(others).get(record.run_id, {})
