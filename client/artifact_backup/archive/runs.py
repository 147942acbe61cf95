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
from collections.abc import Iterable
from dataclasses import dataclass, replace
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
from .history import superseded_files, supersessions
from .joined import Upload, load_timestamp
from .pin_note import pin_key, read_pin
from .summary import RunListing, RunSummary, run_label

#: The RUN argument that names the newest timestamped run.
LATEST = "latest"

_TS_RE = re.compile(r"\d{8}_\d{4}")
_HEX_RE = re.compile(r"[0-9a-f]{4,32}")


def project_key_argument(project_key: str) -> str:
    try:
        return validate_project_key(project_key)
    except ContractError as exc:
        raise ArgumentInvalidError(f"PROJECT: {exc}") from None


def safe_file(file: RecordedFile) -> RecordedFile:
    """A recorded file whose type and path are checked by the contract before they name a local path."""
    try:
        get_artifact_type(file.type)
        validate_relative_path(file.path)
    except ContractError as exc:
        raise RecordInvalidError(f"run record lists an unsafe file {file.type}/{file.path}: {exc}") from None
    return file


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
