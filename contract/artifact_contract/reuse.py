"""The reuse index: which large files of a project the archive already holds, kept in staging.

The uploader's credentials cannot read the archive, so the filer, after filing a run, writes what a
client needs to know into staging, at ``index/{project_key}/reuse.json``: for each large file (one
that travelled alone, as a blob or by reuse) its SHA-256, size, the archive key of its newest copy
and when that copy was written. A client whose large file has the same SHA-256 and size lists it in
the manifest as reused instead of sending it; the filer copies the archived object server-side.

The index is only a hint. The filer checks every source again (same project, metadata SHA-256, size,
not in Glacier) before writing anything, and a stale entry costs a re-send, never a wrong file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from .exceptions import ContractError
from .layout import is_sha256_hex, runs_prefix, validate_project_key
from .records import dumps_record

REUSE_INDEX_SCHEMA = "artifact-backup.reuse-index"
REUSE_INDEX_VERSION = 1
#: Entries kept per project, newest first: about 250 bytes each, so the client's one GET stays small.
MAX_REUSE_ENTRIES = 10_000
#: A larger index is not read (by either side): it cannot have been written by the filer.
MAX_REUSE_INDEX_BYTES = 8 * 1024 * 1024
#: Entries older than this are not offered for reuse by default. The archive moves artifacts to
#: Glacier after 90 days, and a Glacier object cannot be copied; every reuse writes a fresh copy, so
#: a file that keeps being reused keeps a young entry.
DEFAULT_REUSE_MAX_AGE_DAYS = 60


class ReuseIndexInvalidError(ContractError):
    """The reuse index cannot be read; both sides then behave as if it were empty."""


@dataclass(frozen=True)
class IndexedFile:
    """The newest archived copy of one large file of the project."""

    sha256: str
    size: int
    key: str
    run_id: str
    filed_at: str

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "key": self.key, "run_id": self.run_id, "filed_at": self.filed_at}

    def filed(self) -> datetime | None:
        try:
            moment = datetime.fromisoformat(self.filed_at)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ReuseIndex:
    """One project's reuse index; entries by SHA-256."""

    project_key: str
    entries: Mapping[str, IndexedFile] = field(default_factory=dict)
    max_age_days: int = DEFAULT_REUSE_MAX_AGE_DAYS
    updated_at: str = ""

    def lookup(self, sha256: str, size: int, *, now: datetime | None = None) -> IndexedFile | None:
        """The entry for a file with this content, if the index offers it for reuse now."""
        entry = self.entries.get(sha256)
        if entry is None or entry.size != size:
            return None
        filed = entry.filed()
        now = now or datetime.now(UTC)
        if filed is None or now - filed > timedelta(days=self.max_age_days):
            return None
        return entry

    def sizes(self) -> frozenset[int]:
        """The sizes of the files the index holds: a file of any other size cannot be reused, so
        a client need not hash it before deciding to send it."""
        return frozenset(e.size for e in self.entries.values())

    def merged(
        self,
        files: Iterable[IndexedFile],
        *,
        updated_at: str,
        max_age_days: int | None = None,
        max_entries: int = MAX_REUSE_ENTRIES,
        now: datetime | None = None,
    ) -> ReuseIndex:
        """This index with ``files`` (one run's large files) as the newest copies.

        An older entry whose archive key the run has just written is dropped: that key now holds the
        run's file (an untimestamped upload writes the same keys every time). Entries past their
        age are dropped, and only the newest ``max_entries`` are kept.
        """
        max_age = self.max_age_days if max_age_days is None else max_age_days
        new = {f.sha256: f for f in files}
        written = {f.key for f in new.values()}
        kept: dict[str, IndexedFile] = {
            sha: e for sha, e in self.entries.items() if sha not in new and e.key not in written
        }
        kept.update(new)
        now = now or datetime.now(UTC)
        oldest = now - timedelta(days=max_age)
        fresh = [e for e in kept.values() if (e.filed() or oldest) > oldest or e.sha256 in new]
        fresh.sort(key=lambda e: (e.filed() or oldest, e.sha256), reverse=True)
        return replace(
            self,
            entries={e.sha256: e for e in fresh[:max_entries]},
            max_age_days=max_age,
            updated_at=updated_at,
        )

    def without(self, shas: Iterable[str], *, updated_at: str) -> ReuseIndex:
        """This index without entries the filer found unusable, so no client offers them again."""
        drop = set(shas)
        return replace(
            self,
            entries={s: e for s, e in self.entries.items() if s not in drop},
            updated_at=updated_at,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": REUSE_INDEX_SCHEMA,
            "version": REUSE_INDEX_VERSION,
            "project_key": self.project_key,
            "updated_at": self.updated_at,
            "max_age_days": self.max_age_days,
            "files": {sha: e.to_dict() for sha, e in sorted(self.entries.items())},
        }

    def to_json(self) -> bytes:
        return dumps_record(self.to_dict())

    @classmethod
    def from_json(cls, raw: bytes | str, project_key: str) -> ReuseIndex:
        """Read and check an index; anything not exactly as the filer writes it is refused whole.

        Every key must lie in ``project_key``'s own archive folder, outside its run records, so even
        a forged index could not make a filer copy another project's file.
        """
        if len(raw) > MAX_REUSE_INDEX_BYTES:
            raise ReuseIndexInvalidError(f"reuse index is larger than {MAX_REUSE_INDEX_BYTES} bytes")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ReuseIndexInvalidError(f"reuse index is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("schema") != REUSE_INDEX_SCHEMA:
            raise ReuseIndexInvalidError("document is not a reuse index")
        if data.get("version") != REUSE_INDEX_VERSION:
            raise ReuseIndexInvalidError(f"reuse index version {data.get('version')!r} is unknown")
        if data.get("project_key") != project_key:
            raise ReuseIndexInvalidError("reuse index belongs to another project")
        max_age = data.get("max_age_days")
        if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
            raise ReuseIndexInvalidError("reuse index max_age_days is not a whole number of days")
        files = data.get("files")
        if not isinstance(files, dict) or len(files) > MAX_REUSE_ENTRIES:
            raise ReuseIndexInvalidError("reuse index files must map at most "
                                         f"{MAX_REUSE_ENTRIES} checksums to copies")
        own = f"{validate_project_key(project_key)}/"
        records = runs_prefix(project_key)
        entries: dict[str, IndexedFile] = {}
        for sha, raw_entry in files.items():
            if not is_sha256_hex(sha) or not isinstance(raw_entry, dict):
                raise ReuseIndexInvalidError(f"reuse index entry {sha!r} is malformed")
            size, key = raw_entry.get("size"), raw_entry.get("key")
            run_id, filed_at = raw_entry.get("run_id"), raw_entry.get("filed_at")
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise ReuseIndexInvalidError(f"reuse index entry {sha} has no valid size")
            if not isinstance(key, str) or not key.startswith(own) or key.startswith(records):
                raise ReuseIndexInvalidError(f"reuse index entry {sha} names a key outside {own}")
            if not isinstance(run_id, str) or not isinstance(filed_at, str):
                raise ReuseIndexInvalidError(f"reuse index entry {sha} lacks its run or date")
            entries[sha] = IndexedFile(sha, size, key, run_id, filed_at)
        return cls(project_key, entries, max_age, str(data.get("updated_at", "")))
