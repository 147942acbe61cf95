"""Checking that the archive still holds what its run records say: ``artifact-backup verify``.

The filer verifies every file before filing it, but an archive lives for years: objects get deleted
by hand, overwritten by a misdirected sync, or added beside a run by someone tidying up. This module
compares each object of a run (or of every run of a project) with the run record the filer wrote
last, so the user can trust the archive without trusting anyone who had write access to it since.

By default each object is checked by one HEAD: its size and the checksum S3 keeps for it against the
record (:mod:`.verify_heads`), no body read, objects in Glacier and Deep Archive included. ``deep``
reads every object and hashes it instead (:mod:`.verify_reads`), which settles what a stored
checksum cannot; objects in an archive storage class cannot be read until restored. Either way one
LIST per folder the run may hold finds missing and extra objects, and the requests made are counted.

An untimestamped run's files a later untimestamped run replaced are checked at the version its record
names, and reported as superseded (by which run), which is no problem: that is what an upload
without a timestamp means. A record older than version ids cannot name its superseded copies; those
are reported as superseded and not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from artifact_contract import (
    ARTIFACT_TYPES,
    ContractError,
    RecordedFile,
    RecordInvalidError,
    RunRecord,
    archive_key,
    archive_prefix,
)

from ._s3 import CountedClient, ListedObject, list_objects, parallel_map
from .history import Superseded, superseded_files
from .runs import find_record, list_runs, project_key_argument
from .summary import run_label
from .verify_heads import Differs, Outcome, Unsettled, Verified, compare_head, head_stored, settled_by_listing
from .verify_reads import compare_read, read_object

Problem = Literal["missing", "different", "extra", "record-invalid"]
#: ``head``: by the checksums S3 keeps (one HEAD per file); ``deep``: by reading every byte.
Mode = Literal["head", "deep"]
MODES: tuple[Mode, ...] = ("head", "deep")


@dataclass(frozen=True)
class FileProblem:
    """One way the archive differs from a run record.

    ``missing``: a recorded file is not in the archive. ``different``: it is there with another size
    or checksum. ``extra``: an object sits in the run's folders that the record does not list.
    ``record-invalid``: the record itself cannot be read, or names a key outside the run's layout.
    """

    problem: Problem
    key: str
    detail: str
    type: str | None = None
    path: str | None = None
    expected_size: int | None = None
    expected_sha256: str | None = None
    actual_size: int | None = None
    actual_sha256: str | None = None
    expected_crc64nvme: str | None = None
    #: The checksum S3 keeps for the object (``algorithm``, ``value``, ``type``), when a HEAD asked.
    actual_checksum: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem": self.problem,
            "key": self.key,
            "type": self.type,
            "path": self.path,
            "detail": self.detail,
            "expected_size": self.expected_size,
            "expected_sha256": self.expected_sha256,
            "actual_size": self.actual_size,
            "actual_sha256": self.actual_sha256,
            "expected_crc64nvme": self.expected_crc64nvme,
            "actual_checksum": self.actual_checksum,
        }


def _zero_requests() -> dict[str, int]:
    return {"HEAD": 0, "GET": 0, "LIST": 0}


def _unchecked_needs(unchecked: Sequence[dict[str, str]]) -> dict[str, int]:
    needs = {"restore": 0, "deep": 0}
    for u in unchecked:
        needs[u.get("needs", "restore")] += 1
    return needs


@dataclass
class RunCheck:
    """What checking one run found."""

    label: str
    run_id: str
    record_key: str
    files: int = 0
    files_verified: int = 0
    bytes_read: int = 0
    mode: Mode = "head"
    problems: list[FileProblem] = field(default_factory=list)
    #: Recorded files neither good nor bad yet: ``needs`` a restore (Glacier, Deep Archive) or a
    #: ``verify --deep`` (a record older than full-object checksums).
    unchecked: list[dict[str, str]] = field(default_factory=list)
    #: Why extras were not looked for, when they were not (untimestamped uploads share folders).
    extras_note: str | None = None
    #: Files a later untimestamped run wrote again: checked at this run's version, or (records older
    #: than version ids) not checked at all.
    superseded: list[Superseded] = field(default_factory=list)
    #: Files verified, per what settled them: ``CRC64NVME`` or ``SHA256`` (by HEAD), ``bytes`` (read).
    verified_by: dict[str, int] = field(default_factory=dict)
    #: The HEAD, GET and LIST requests checking this run made.
    requests: dict[str, int] = field(default_factory=_zero_requests)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.unchecked

    def counts(self) -> dict[str, int]:
        counts = {"missing": 0, "different": 0, "extra": 0, "record-invalid": 0}
        for p in self.problems:
            counts[p.problem] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.label,
            "run_id": self.run_id,
            "record_key": self.record_key,
            "ok": self.ok,
            "mode": self.mode,
            "files": self.files,
            "files_verified": self.files_verified,
            "verified_by": dict(self.verified_by),
            "bytes_read": self.bytes_read,
            "requests": dict(self.requests),
            "counts": self.counts(),
            "problems": [p.to_dict() for p in self.problems],
            "unchecked": list(self.unchecked),
            "unchecked_needs": _unchecked_needs(self.unchecked),
            "extras_note": self.extras_note,
            "superseded": [s.to_dict() for s in self.superseded],
        }


@dataclass
class VerifyResult:
    """Every run checked, plus records that could not even be read."""

    project_key: str
    bucket: str
    runs: list[RunCheck] = field(default_factory=list)
    unreadable_records: list[FileProblem] = field(default_factory=list)
    mode: Mode = "head"
    #: Every HEAD, GET and LIST request made, finding and reading the run records included.
    requests: dict[str, int] = field(default_factory=_zero_requests)

    @property
    def problems(self) -> list[FileProblem]:
        return [*self.unreadable_records, *(p for r in self.runs for p in r.problems)]

    @property
    def unchecked(self) -> int:
        return sum(len(r.unchecked) for r in self.runs)

    def unchecked_needs(self) -> dict[str, int]:
        """Unchecked files per what would check them: a ``restore`` first, or ``verify --deep``."""
        return _unchecked_needs([u for r in self.runs for u in r.unchecked])

    @property
    def ok(self) -> bool:
        return not self.problems and not self.unchecked

    @property
    def files(self) -> int:
        return sum(r.files for r in self.runs)

    @property
    def files_verified(self) -> int:
        return sum(r.files_verified for r in self.runs)

    @property
    def bytes_read(self) -> int:
        return sum(r.bytes_read for r in self.runs)

    def verified_by(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for run in self.runs:
            for by, n in run.verified_by.items():
                totals[by] = totals.get(by, 0) + n
        return totals

    def counts(self) -> dict[str, int]:
        totals = {"missing": 0, "different": 0, "extra": 0, "record-invalid": len(self.unreadable_records)}
        for run in self.runs:
            for name, n in run.counts().items():
                totals[name] += n
        return totals

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_key": self.project_key,
            "bucket": self.bucket,
            "ok": self.ok,
            "mode": self.mode,
            "runs_checked": len(self.runs),
            "files": self.files,
            "files_verified": self.files_verified,
            "verified_by": self.verified_by(),
            "bytes_read": self.bytes_read,
            "requests": dict(self.requests),
            "counts": self.counts(),
            "unchecked": self.unchecked,
            "unchecked_needs": self.unchecked_needs(),
            "unreadable_records": [p.to_dict() for p in self.unreadable_records],
            "runs": [r.to_dict() for r in self.runs],
        }


# -- checking one run ------------------------------------------------------------------------------


def _expected_key(record: RunRecord, file: RecordedFile) -> str | None:
    """The key the layout gives this file, or None when the record names something impossible."""
    try:
        return archive_key(record.project_key, file.type, record.timestamp, file.path)
    except ContractError:
        return None


def _run_folders(record: RunRecord) -> list[str]:
    """Every folder a timestamped run may hold files in: one per artifact type, recorded or not, so
    files added under a type the run never had are found too."""
    assert record.timestamp is not None
    return [archive_prefix(record.project_key, t, record.timestamp) for t in ARTIFACT_TYPES]


def _in_layout(record: RunRecord, check: RunCheck) -> dict[str, RecordedFile]:
    """The record's files by key; a file the layout would not put there is a problem of the record."""
    expected: dict[str, RecordedFile] = {}
    for f in record.files:
        key = _expected_key(record, f)
        if key is None or key != f.key:
            check.problems.append(FileProblem(
                "record-invalid", f.key,
                f"the record lists {f.type}/{f.path} at {f.key}, outside the run's layout",
                f.type, f.path, f.size, f.sha256, expected_crc64nvme=f.crc64nvme))
            continue
        expected[f.key] = f
    return expected


def _listed(client: Any, bucket: str, record: RunRecord, expected: Mapping[str, RecordedFile],
            check: RunCheck, workers: int) -> dict[str, ListedObject] | None:
    """What a timestamped run's folders hold, extras reported; None for an untimestamped run, whose
    folders every other such upload shares."""
    if record.timestamp is None:
        check.extras_note = ("an upload without a timestamp shares its folders with every other such "
                             "upload, so objects beside it are not reported as extra")
        return None
    listed: dict[str, ListedObject] = {}
    folders = _run_folders(record)
    for objects in parallel_map(lambda p: list(list_objects(client, bucket, p)), folders, workers):
        listed.update((o.key, o) for o in objects)
    for key in sorted(set(listed) - set(expected)):
        check.problems.append(FileProblem(
            "extra", key, "in the run's folder but not in its run record", actual_size=listed[key].size))
    return listed


def _check_file(client: Any, bucket: str, f: RecordedFile, listing: ListedObject | None, *,
                deep: bool, chunk: int) -> tuple[Outcome | None, int]:
    """One file's outcome (None: not in the archive) and the bytes read to reach it."""
    if deep:
        found = read_object(client, bucket, f, chunk, listing.storage_class if listing else "GLACIER")
        if found is None or isinstance(found, Unsettled):
            return found, 0
        return compare_read(f, found), found.size
    listed = settled_by_listing(f, listing)
    if listed is not None:
        return listed, 0
    stored = head_stored(client, bucket, f)
    return (None if stored is None else compare_head(f, stored)), 0


def _record_outcome(check: RunCheck, f: RecordedFile, outcome: Outcome | None) -> None:
    if outcome is None:
        check.problems.append(FileProblem(
            "missing", f.key, "recorded but not in the archive", f.type, f.path, f.size, f.sha256,
            expected_crc64nvme=f.crc64nvme))
    elif isinstance(outcome, Unsettled):
        check.unchecked.append(outcome.to_dict(f.key))
    elif isinstance(outcome, Differs):
        check.problems.append(FileProblem(
            "different", f.key, outcome.detail, f.type, f.path, f.size, f.sha256, outcome.actual_size,
            outcome.actual_sha256, f.crc64nvme, outcome.actual_checksum))
    else:
        assert isinstance(outcome, Verified)
        check.files_verified += 1
        check.verified_by[outcome.by] = check.verified_by.get(outcome.by, 0) + 1


def verify_record(client: Any, bucket: str, record: RunRecord, record_key: str, *, deep: bool = False,
                  workers: int = 10, chunk: int = 1024 * 1024,
                  superseded: Mapping[str, Superseded] | None = None) -> RunCheck:
    """Check one run's files in the archive against its record, by HEAD or (``deep``) by reading
    them; ``superseded`` (``history``) names the files later untimestamped runs wrote again."""
    counted = client if isinstance(client, CountedClient) else CountedClient(client)
    before = counted.counts()
    check = RunCheck(run_label(record), record.run_id, record_key, files=len(record.files),
                     mode="deep" if deep else "head")
    superseded = superseded or {}
    check.superseded = [superseded[k] for k in sorted(superseded)]
    expected = _in_layout(record, check)
    listed = _listed(counted, bucket, record, expected, check, workers)

    def one(f: RecordedFile) -> tuple[RecordedFile, Outcome | None, int]:
        if listed is not None and f.key not in listed:
            return f, None, 0
        outcome, read = _check_file(counted, bucket, f, listed.get(f.key) if listed else None,
                                    deep=deep, chunk=chunk)
        return f, outcome, read

    # A superseded copy the record cannot name is reported as superseded, not checked as damage.
    checkable = [expected[k] for k in sorted(expected) if k not in superseded or superseded[k].readable]
    for f, outcome, read in parallel_map(one, checkable, workers):
        check.bytes_read += read
        _record_outcome(check, f, outcome)
    check.problems.sort(key=lambda p: (p.problem, p.key))
    after = counted.counts()
    check.requests = {kind: after[kind] - before[kind] for kind in after}
    return check


def _targets(client: Any, bucket: str, project_key: str, run: str | None, result: VerifyResult,
             workers: int) -> list[tuple[RunRecord, str, Mapping[str, Superseded] | None]]:
    """The runs to check, each with its superseded files; unreadable records go into ``result``."""
    if run is None:
        listing = list_runs(client, bucket, project_key, storage=False, workers=workers)
        for warning in listing.warnings:
            key, _, detail = warning.partition(": ")
            result.unreadable_records.append(FileProblem("record-invalid", key, detail or warning))
        return [(s.record, s.record_key, s.superseded) for s in listing.runs]
    try:
        record, key = find_record(client, bucket, project_key, run)
    except RecordInvalidError as exc:
        result.unreadable_records.append(FileProblem("record-invalid", run, str(exc)))
        return []
    return [(record, key, superseded_files(client, bucket, record, workers=workers))]


def verify(
    client: Any,
    bucket: str,
    project_key: str,
    run: str | None = None,
    *,
    deep: bool = False,
    workers: int = 10,
    chunk: int = 1024 * 1024,
    on_run: Callable[[RunCheck], None] | None = None,
) -> VerifyResult:
    """Verify one run (``run``: timestamp, ``latest`` or run id) or, with ``run=None``, every run of
    the project, by HEAD or (``deep``) by reading every byte. Raises :class:`RunNotFoundError` when
    the named run has no record."""
    project_key = project_key_argument(project_key)
    counted = CountedClient(client)
    result = VerifyResult(project_key, bucket, mode="deep" if deep else "head")
    for record, key, replaced in _targets(counted, bucket, project_key, run, result, workers):
        check = verify_record(counted, bucket, record, key, deep=deep, workers=workers, chunk=chunk,
                              superseded=replaced)
        result.runs.append(check)
        if on_run is not None:
            on_run(check)
    result.requests = counted.counts()
    return result
