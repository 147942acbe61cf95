"""One run per timestamp, whatever number of uploads filed it.

All artifacts of a run share its timestamp, and they need not be uploaded at once: the logs first and
the report later, each upload with its own run id, own types and own record
(``_runs/{ts}/runs/{run_id}.json``; an older filer's ``_runs/{ts}/run.json``). Readers join them
into the one run of the timestamp, and keep which upload brought each type.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from artifact_contract import RecordedFile, RunRecord, parse_runs_key, timestamp_runs_prefix

from ._s3 import get_bytes, list_objects, parallel_map


@dataclass(frozen=True)
class Upload:
    """One upload that filed some of a timestamp's artifact types."""

    run_id: str
    types: tuple[str, ...]
    created_at: str
    record_key: str
    files: int
    bytes: int

    @classmethod
    def of(cls, record: RunRecord, key: str) -> Upload:
        return cls(record.run_id, tuple(sorted({f.type for f in record.files})), record.created_at, key,
                   len(record.files), record.bytes)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "types": list(self.types), "created_at": self.created_at,
                "record_key": self.record_key, "files": self.files, "bytes": self.bytes}


def join(records: Sequence[tuple[RunRecord, str]]) -> tuple[RunRecord, str, tuple[Upload, ...]]:
    """The timestamp's run: the first upload's record (and key) holding every upload's files.

    The first upload (oldest, then by run id) names the run; the config hash is that of the upload
    that brought the config. Uploads file disjoint types, so no key is listed twice; should one be
    anyway, the first upload's file is kept.
    """
    ordered = sorted(records, key=lambda rk: (rk[0].created_at, rk[0].run_id))
    uploads = tuple(Upload.of(r, k) for r, k in ordered)
    first, first_key = ordered[0]
    if len(ordered) == 1:
        return first, first_key, uploads
    files: dict[str, RecordedFile] = {}
    for record, _ in ordered:
        for f in record.files:
            files.setdefault(f.key, f)
    config = next((r.config_sha256 for r, _ in ordered
                   if r.config_sha256 and any(f.type == "config" for f in r.files)), first.config_sha256)
    merged = replace(
        first,
        files=tuple(files[k] for k in sorted(files)),
        prefixes=tuple(sorted({p for r, _ in ordered for p in r.prefixes})),
        config_sha256=config,
    )
    return merged, first_key, uploads


def record_keys(client: Any, bucket: str, project_key: str, timestamp: str) -> list[str]:
    """The keys of every record at ``timestamp``: one LIST of its small ``_runs/{ts}/`` folder."""
    keys = []
    for obj in list_objects(client, bucket, timestamp_runs_prefix(project_key, timestamp)):
        found = parse_runs_key(project_key, obj.key)
        if found is not None and found.kind == "record" and found.timestamp == timestamp:
            keys.append(obj.key)
    return keys


def load_timestamp(
    client: Any, bucket: str, project_key: str, timestamp: str, keys: Iterable[str] | None = None,
    workers: int = 4,
) -> tuple[RunRecord, str, tuple[Upload, ...]] | None:
    """The run at ``timestamp`` joined from its records (listed unless ``keys`` are given); None
    when it has none."""
    wanted = list(keys) if keys is not None else record_keys(client, bucket, project_key, timestamp)

    def read(key: str) -> tuple[RunRecord, str] | None:
        raw = get_bytes(client, bucket, key, action=f"reading run record {key}")
        return None if raw is None else (RunRecord.from_json(raw), key)

    found = [r for r in parallel_map(read, wanted, workers) if r is not None]
    return join(found) if found else None
