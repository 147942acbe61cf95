"""Finding runs: run records (the filer's list of what a run filed), pin notes, and where each file
is stored now.

A run exists for a reader once its record exists (the filer writes it last), so every command starts
from records: one paginated LIST of ``{project}/_runs/`` and one GET per record, never a listing of
the project's artifact folders, which may hold millions of raw files (the guide's ``reels/``).
Storage classes come from a LIST of each of the run's own prefixes (a HEAD per file for
untimestamped uploads, which share their folder with every other upload of the type: a HEAD of the
version the record names, so an upload a later one superseded shows where its own copy is).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from artifact_contract import (
    ContractError,
    RecordedFile,
    RecordInvalidError,
    RunRecord,
    archive_prefix,
    get_artifact_type,
    parse_runs_key,
    run_record_key,
    runs_prefix,
    timestamp_runs_prefix,
    validate_project_key,
    validate_relative_path,
)

from ..exceptions import ArgumentInvalidError, RunNotFoundError
from ._s3 import ListedObject, get_bytes, head, list_objects, parallel_map
from .history import Superseded, superseded_files, supersessions
from .joined import Upload, load_timestamp
from .pin_note import PinNote, pin_key, read_pin

#: The RUN argument that names the newest timestamped run.
LATEST = "latest"
#: Storage "class" of a recorded file that is no longer in the archive (expired or deleted).
MISSING = "MISSING"

_TS_RE = re.compile(r"\d{8}_\d{4}")
_HEX_RE = re.compile(r"[0-9a-f]{4,32}")


def project_key_argument(project_key: str) -> str:
    try:
        return validate_project_key(project_key)
    except ContractError as exc:
        raise ArgumentInvalidError(f"PROJECT: {exc}") from None


def run_label(record: RunRecord) -> str:
    """How commands name a run: its timestamp, or the run id of an untimestamped upload."""
    return record.timestamp or record.run_id


def safe_file(file: RecordedFile) -> RecordedFile:
    """A recorded file whose type and path are checked by the contract before they name a local path."""
    try:
        get_artifact_type(file.type)
        validate_relative_path(file.path)
    except ContractError as exc:
        raise RecordInvalidError(f"run record lists an unsafe file {file.type}/{file.path}: {exc}") from None
    return file


@dataclass(frozen=True)
class RunSummary:
    """One run as ``runs`` and ``show`` see it.

    ``objects`` maps each recorded file's key to what the archive holds there now (None: missing);
    it is None when storage was not looked at. ``superseded`` maps the keys of an untimestamped
    run's files that a later untimestamped run wrote again (``history``).
    """

    record: RunRecord
    record_key: str
    pin: PinNote | None = None
    objects: Mapping[str, ListedObject | None] | None = None
    superseded: Mapping[str, Superseded] = field(default_factory=dict)
    #: The uploads that filed a timestamped run, oldest first, each with its types (``joined``).
    uploads: tuple[Upload, ...] = ()

    @property
    def label(self) -> str:
        return run_label(self.record)

    @property
    def pinned(self) -> bool:
        return bool(self.pin and self.pin.pinned)

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(sorted({f.type for f in self.record.files}))

    def upload_of(self, file: RecordedFile) -> str:
        """The run id of the upload that brought ``file``."""
        return next((u.run_id for u in self.uploads if file.type in u.types), self.record.run_id)

    def storage_class_of(self, file: RecordedFile) -> str | None:
        if self.objects is None:
            return None
        found = self.objects.get(file.key)
        return found.storage_class if found is not None else MISSING

    @property
    def storage(self) -> dict[str, int] | None:
        """Files per storage class (``MISSING`` for files no longer there)."""
        if self.objects is None:
            return None
        counts = Counter(self.storage_class_of(f) or MISSING for f in self.record.files)
        return dict(sorted(counts.items()))

    def files_per_type(self) -> dict[str, int]:
        return dict(sorted(Counter(f.type for f in self.record.files).items()))

    def bytes_per_type(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for f in self.record.files:
            totals[f.type] += f.size
        return dict(sorted(totals.items()))

    def to_dict(self, *, files: bool = False) -> dict[str, Any]:
        record = self.record
        data: dict[str, Any] = {
            "run": self.label,
            "run_id": record.run_id,
            "project_key": record.project_key,
            "timestamp": record.timestamp,
            "created_at": record.created_at,
            "types": list(self.types),
            "files": len(record.files),
            "bytes": record.bytes,
            "files_per_type": self.files_per_type(),
            "bytes_per_type": self.bytes_per_type(),
            "storage": self.storage,
            "pinned": self.pinned,
            "pin": self.pin.to_dict() if self.pin else None,
            "record_key": self.record_key,
            "superseded": [self.superseded[k].to_dict() for k in sorted(self.superseded)],
        }
        if self.uploads:
            data["uploads"] = [u.to_dict() for u in self.uploads]
        if files:
            data["config_sha256"] = record.config_sha256
            data["uploader"] = dict(record.uploader)
            data["archive_bucket"] = record.archive_bucket
            data["prefixes"] = list(record.prefixes)
            data["file_list"] = [
                {**f.to_dict(), "storage_class": self.storage_class_of(f),
                 "superseded_by": s.by_run_id if (s := self.superseded.get(f.key)) else None,
                 **({"upload_run_id": self.upload_of(f)} if self.uploads else {})}
                for f in record.files
            ]
        return data


@dataclass(frozen=True)
class RunListing:
    project_key: str
    runs: tuple[RunSummary, ...]
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"project_key": self.project_key, "runs": [r.to_dict() for r in self.runs],
                "warnings": list(self.warnings)}


# -- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RunsFolder:
    """The keys under ``{project}/_runs/``, sorted by what they are."""

    records: tuple[str, ...]
    #: The records of timestamped runs, oldest first.
    stamped: tuple[str, ...]
    pins: frozenset[str]
    claims: frozenset[str]

    @property
    def timestamps(self) -> dict[str, list[str]]:
        """Each timestamp's record keys (one per upload that filed some of its types), oldest first."""
        groups: dict[str, list[str]] = {}
        for key in self.stamped:
            found = parse_runs_key(key.split("/", 1)[0], key)
            if found is not None and found.timestamp is not None:
                groups.setdefault(found.timestamp, []).append(key)
        return dict(sorted(groups.items()))

    @property
    def untimestamped(self) -> tuple[str, ...]:
        stamped = set(self.stamped)
        return tuple(k for k in self.records if k not in stamped)


def _scan(client: Any, bucket: str, project_key: str) -> _RunsFolder:
    prefix = runs_prefix(project_key)
    records: list[str] = []
    stamped: list[str] = []
    pins: set[str] = set()
    claims: set[str] = set()
    for obj in list_objects(client, bucket, prefix):
        found = parse_runs_key(project_key, obj.key)
        if found is None:
            continue
        if found.kind == "record":
            records.append(obj.key)
            if found.timestamp is not None:
                stamped.append(obj.key)
        elif found.kind == "pin":
            pins.add(obj.key)
        elif found.timestamp is not None:
            claims.add(found.timestamp)
    return _RunsFolder(tuple(records), tuple(sorted(stamped)), frozenset(pins), frozenset(claims))


def read_record(client: Any, bucket: str, key: str) -> RunRecord | None:
    raw = get_bytes(client, bucket, key, action=f"reading run record {key}")
    return None if raw is None else RunRecord.from_json(raw)


def survey(client: Any, bucket: str, record: RunRecord, workers: int) -> dict[str, ListedObject | None]:
    """What the archive holds now at each of the run's keys (None: gone)."""
    wanted = {f.key for f in record.files}
    found: dict[str, ListedObject | None] = dict.fromkeys(wanted)
    if record.timestamp:
        prefixes = set(record.prefixes) or {
            archive_prefix(record.project_key, t, record.timestamp) for t in {f.type for f in record.files}
        }
        listings = parallel_map(lambda p: list(list_objects(client, bucket, p)), sorted(prefixes), workers)
        for listed in listings:
            for obj in listed:
                if obj.key in wanted:
                    found[obj.key] = obj
        return found

    def one(file: RecordedFile) -> tuple[str, ListedObject | None]:
        response = head(client, bucket, file.key, version_id=file.version_id)
        if response is None:
            return file.key, None
        return file.key, ListedObject(file.key, int(response.get("ContentLength", 0)),
                                      response.get("StorageClass") or "STANDARD")

    by_key = {f.key: f for f in record.files}
    found.update(parallel_map(one, [by_key[k] for k in sorted(wanted)], workers))
    return found


def _order(summary: RunSummary) -> tuple[int, str]:
    record = summary.record
    return (0, record.timestamp) if record.timestamp else (1, record.created_at)


def list_runs(
    client: Any, bucket: str, project_key: str, *, storage: bool = True, workers: int = 10
) -> RunListing:
    """Every run of a project, oldest first (untimestamped uploads after the timestamped runs)."""
    project_key = project_key_argument(project_key)
    folder = _scan(client, bucket, project_key)
    warnings: list[str] = []

    def load(group: tuple[str, ...]) -> RunSummary | None:
        try:
            if len(group) == 1 and group[0] in folder.untimestamped:
                record = read_record(client, bucket, group[0])
                found = None if record is None else (record, group[0], ())
            else:
                ts = parse_runs_key(project_key, group[0]).timestamp  # type: ignore[union-attr]
                found = load_timestamp(client, bucket, project_key, str(ts), group, workers=1)
        except RecordInvalidError as exc:
            warnings.append(f"{group[0]}: {exc}")
            return None
        if found is None:  # deleted between the LIST and the GET
            return None
        record, key, uploads = found
        pin = read_pin(client, bucket, record) if pin_key(record) in folder.pins else None
        objects = survey(client, bucket, record, workers=2) if storage else None
        return RunSummary(record, key, pin, objects, uploads=uploads)

    groups = [(k,) for k in folder.untimestamped] + [tuple(g) for g in folder.timestamps.values()]
    summaries = [s for s in parallel_map(load, groups, workers) if s is not None]
    superseded = supersessions(s.record for s in summaries)
    summaries = [replace(s, superseded=superseded.get(s.record.run_id, {})) for s in summaries]
    return RunListing(project_key, tuple(sorted(summaries, key=_order)), tuple(sorted(warnings)))


def _not_found(project_key: str, run: str, folder: _RunsFolder | None = None) -> RunNotFoundError:
    hint = f"artifact-backup runs {project_key} lists the project's runs"
    if folder is not None and run in folder.claims:
        hint = (f"run {run} claimed its timestamp but has no run record: it is still being filed, or "
                f"the filer refused it; {hint}")
    return RunNotFoundError(f"no run {run} of project {project_key} in the archive", hint=hint)


def find_record(client: Any, bucket: str, project_key: str, run: str) -> tuple[RunRecord, str]:
    """The record of the run named ``run``: a timestamp, ``latest``, a run id, or its first characters.

    A timestamp's run is the join of every upload filed at it (``joined``)."""
    record, key, _ = find_run(client, bucket, project_key, run)
    return record, key


def find_run(client: Any, bucket: str, project_key: str, run: str
             ) -> tuple[RunRecord, str, tuple[Upload, ...]]:
    """:func:`find_record` with the uploads that filed a timestamped run."""
    project_key = project_key_argument(project_key)
    run = run.strip()
    if _TS_RE.fullmatch(run):
        try:
            timestamp_runs_prefix(project_key, run)
        except ContractError as exc:
            raise ArgumentInvalidError(f"RUN: {exc}") from None
        found = load_timestamp(client, bucket, project_key, run)
        if found is None:
            raise _not_found(project_key, run, _scan(client, bucket, project_key))
        return found
    folder = _scan(client, bucket, project_key)
    if run == LATEST:
        timestamps = folder.timestamps
        if not timestamps:
            raise RunNotFoundError(f"project {project_key} has no timestamped run in the archive",
                                   hint=f"artifact-backup runs {project_key} lists the project's runs")
        latest, keys = list(timestamps.items())[-1]
        found = load_timestamp(client, bucket, project_key, latest, keys)
        if found is None:
            raise _not_found(project_key, run)
        return found
    if not _HEX_RE.fullmatch(run):
        raise ArgumentInvalidError(
            f"RUN {run!r} is not a run: give its timestamp (YYYYMMDD_HHMM), its run id, or 'latest'",
            hint=f"artifact-backup runs {project_key} lists the project's runs",
        )
    direct = run_record_key(project_key, None, run) if len(run) == 32 else None
    if direct is not None and direct in folder.records:
        record = read_record(client, bucket, direct)
        if record is not None:
            return record, direct, ()
    records = [(r, k) for r, k in zip(parallel_map(lambda k: read_record(client, bucket, k), folder.records,
                                                   10), folder.records, strict=True) if r is not None]
    matches = [(r, k) for r, k in records if r.run_id.startswith(run)]
    if len(matches) > 1:
        raise ArgumentInvalidError(
            f"RUN {run!r} matches {len(matches)} runs: "
            + ", ".join(run_label(r) for r, _ in matches[:5]),
            hint="give more characters of the run id",
        )
    if not matches:
        raise _not_found(project_key, run)
    record, key = matches[0]
    if record.timestamp:  # an upload at a timestamp: the timestamp's whole run
        return find_run(client, bucket, project_key, record.timestamp)
    return record, key, ()


def load_run(client: Any, bucket: str, project_key: str, run: str, *, storage: bool = True,
             workers: int = 10) -> RunSummary:
    """One run with its pin note and, with ``storage``, where each of its files is stored now."""
    record, key, uploads = find_run(client, bucket, project_key, run)
    pin = read_pin(client, bucket, record)
    objects = survey(client, bucket, record, workers) if storage else None
    return RunSummary(record, key, pin, objects,
                      superseded=superseded_files(client, bucket, record, workers=workers), uploads=uploads)


def select_files(
    record: RunRecord, *, include: Iterable[str] | None = None, files: Iterable[str] | None = None
) -> list[RecordedFile]:
    """The run's files of the chosen types and/or named files (``{type}/{path}`` or a path unique in
    the run); every one checked by the contract, since its type and path become local paths."""
    chosen = [safe_file(f) for f in record.files]
    types = list(include or ())
    for name in types:
        try:
            get_artifact_type(name)
        except ContractError as exc:
            raise ArgumentInvalidError(f"--include: {exc}") from None
    if types:
        chosen = [f for f in chosen if f.type in types]
    names = list(files or ())
    if names:
        picked: list[RecordedFile] = []
        for name in names:
            clean = name.strip().lstrip("/")
            hits = [f for f in chosen if f"{f.type}/{f.path}" == clean]
            hits = hits or [f for f in chosen if f.path == clean]
            if not hits:
                raise RunNotFoundError(
                    f"run {run_label(record)} of {record.project_key} has no file {name}",
                    hint=f"artifact-backup show {record.project_key} {run_label(record)} lists its files "
                         "(name one as TYPE/PATH, e.g. config/config.yaml)",
                )
            if len(hits) > 1:
                raise ArgumentInvalidError(
                    f"--file {name} matches {len(hits)} files: "
                    + ", ".join(f"{f.type}/{f.path}" for f in hits),
                    hint="name it as TYPE/PATH",
                )
            if hits[0] not in picked:
                picked.append(hits[0])
        chosen = picked
    return chosen
