"""Checking that the archive still holds what its run records say: ``artifact-backup verify``.

The filer verifies every file before filing it, but an archive lives for years: objects get deleted
by hand, overwritten by a misdirected sync, or added beside a run by someone tidying up. This module
re-reads a run (or every run of a project) from the archive and compares each object, byte for byte
through its SHA-256, with the run record the filer wrote last, so the user can trust the archive
without trusting anyone who had write access to it since.

Reading streams each object through its hash (bounded memory, parallel objects), one LIST per folder
the run may hold. Files in Glacier or Deep Archive cannot be read without a restore and are reported
as not checked rather than guessed at.

An untimestamped run's files a later untimestamped run replaced are read at the version its record
names, and reported as superseded (by which run), which is no problem: that is what an upload
without a timestamp means. A record older than version ids cannot name its superseded copies; those
are reported as superseded and not read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from artifact_contract import (
    ARTIFACT_TYPES,
    META_SHA256,
    ContractError,
    RecordedFile,
    RecordInvalidError,
    RunRecord,
    archive_key,
    archive_prefix,
)
from artifact_contract.s3 import body_of, error_code, is_aws_error, is_missing

from ._s3 import list_objects, parallel_map, read_error
from .history import Superseded, superseded_files
from .runs import find_record, list_runs, project_key_argument, run_label

Problem = Literal["missing", "different", "extra", "record-invalid"]

#: S3 answers this for an object in Glacier or Deep Archive that has not been restored.
_ARCHIVED = "InvalidObjectState"


@dataclass(frozen=True)
class FileProblem:
    """One way the archive differs from a run record.

    ``missing``: a recorded file is not in the archive. ``different``: it is there with another size
    or SHA-256. ``extra``: an object sits in the run's folders that the record does not list.
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
        }


@dataclass
class RunCheck:
    """What re-reading one run found."""

    label: str
    run_id: str
    record_key: str
    files: int = 0
    files_verified: int = 0
    bytes_read: int = 0
    problems: list[FileProblem] = field(default_factory=list)
    #: Recorded files that could not be read (Glacier, Deep Archive): neither good nor bad yet.
    unchecked: list[dict[str, str]] = field(default_factory=list)
    #: Why extras were not looked for, when they were not (untimestamped uploads share folders).
    extras_note: str | None = None
    #: Files a later untimestamped run wrote again: read at this run's version, or (records older
    #: than version ids) not read at all.
    superseded: list[Superseded] = field(default_factory=list)

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
            "files": self.files,
            "files_verified": self.files_verified,
            "bytes_read": self.bytes_read,
            "counts": self.counts(),
            "problems": [p.to_dict() for p in self.problems],
            "unchecked": list(self.unchecked),
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

    @property
    def problems(self) -> list[FileProblem]:
        return [*self.unreadable_records, *(p for r in self.runs for p in r.problems)]

    @property
    def unchecked(self) -> int:
        return sum(len(r.unchecked) for r in self.runs)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.unchecked

    @property
    def files_verified(self) -> int:
        return sum(r.files_verified for r in self.runs)

    @property
    def bytes_read(self) -> int:
        return sum(r.bytes_read for r in self.runs)

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
            "runs_checked": len(self.runs),
            "files_verified": self.files_verified,
            "bytes_read": self.bytes_read,
            "counts": self.counts(),
            "unchecked": self.unchecked,
            "unreadable_records": [p.to_dict() for p in self.unreadable_records],
            "runs": [r.to_dict() for r in self.runs],
        }


# -- reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Read:
    size: int
    sha256: str
    meta_sha256: str | None


def _hash_object(client: Any, bucket: str, file: RecordedFile, chunk: int) -> _Read | str | None:
    """The size and SHA-256 of the recorded object (its version, when the record names one) from its
    bytes; None when it is gone, its storage class when it must be restored before it can be read."""
    key = file.key
    try:
        response = client.get_object(Bucket=bucket, Key=key, **file.version_args())
    except Exception as exc:
        if is_missing(exc):
            return None
        if error_code(exc) == _ARCHIVED:
            return "GLACIER"
        if is_aws_error(exc):
            raise read_error(exc, bucket=bucket, action=f"reading {key}") from None
        raise
    digest = hashlib.sha256()
    size = 0
    try:
        with body_of(response) as body:
            while block := body.read(chunk):
                digest.update(block)
                size += len(block)
    except Exception as exc:
        if is_aws_error(exc):
            raise read_error(exc, bucket=bucket, action=f"reading {key}") from None
        raise
    metadata = response.get("Metadata") or {}
    return _Read(size, digest.hexdigest(), metadata.get(META_SHA256))


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


def verify_record(client: Any, bucket: str, record: RunRecord, record_key: str, *, workers: int = 10,
                  chunk: int = 1024 * 1024, superseded: Mapping[str, Superseded] | None = None) -> RunCheck:
    """Re-read one run's files from the archive and compare them with its record; ``superseded``
    (``history``) names the files later untimestamped runs wrote again."""
    check = RunCheck(run_label(record), record.run_id, record_key, files=len(record.files))
    superseded = superseded or {}
    check.superseded = [superseded[k] for k in sorted(superseded)]
    expected: dict[str, RecordedFile] = {}
    for f in record.files:
        key = _expected_key(record, f)
        if key is None or key != f.key:
            check.problems.append(FileProblem(
                "record-invalid", f.key,
                f"the record lists {f.type}/{f.path} at {f.key}, outside the run's layout",
                f.type, f.path, f.size, f.sha256))
            continue
        expected[f.key] = f

    listed: dict[str, int] | None = None
    if record.timestamp is not None:
        listed = {}
        for objects in parallel_map(lambda p: list(list_objects(client, bucket, p)), _run_folders(record),
                                    workers):
            listed.update((o.key, o.size) for o in objects)
        for key in sorted(set(listed) - set(expected)):
            check.problems.append(FileProblem(
                "extra", key, "in the run's folder but not in its run record", actual_size=listed[key]))
    else:
        check.extras_note = ("an upload without a timestamp shares its folders with every other such "
                             "upload, so objects beside it are not reported as extra")

    def one(f: RecordedFile) -> tuple[RecordedFile, _Read | str | None]:
        if listed is not None and f.key not in listed:
            return f, None
        return f, _hash_object(client, bucket, f, chunk)

    # A superseded copy the record cannot name is reported as superseded, not read as damage.
    readable = [expected[k] for k in sorted(expected) if k not in superseded or superseded[k].readable]
    for f, found in parallel_map(one, readable, workers):
        if found is None:
            check.problems.append(FileProblem(
                "missing", f.key, "recorded but not in the archive", f.type, f.path, f.size, f.sha256))
        elif isinstance(found, str):
            check.unchecked.append({"key": f.key, "storage_class": found,
                                    "detail": "in an archive storage class: restore it to verify it"})
        else:
            check.bytes_read += found.size
            if found.size != f.size or found.sha256 != f.sha256:
                what = "size and SHA-256 differ" if found.size != f.size else "SHA-256 differs"
                check.problems.append(FileProblem(
                    "different", f.key, f"its {what} from the run record", f.type, f.path,
                    f.size, f.sha256, found.size, found.sha256))
            elif found.meta_sha256 is not None and found.meta_sha256 != f.sha256:
                check.problems.append(FileProblem(
                    "different", f.key, "its bytes match the record but its sha256 metadata does not",
                    f.type, f.path, f.size, f.sha256, found.size, found.sha256))
            else:
                check.files_verified += 1
    check.problems.sort(key=lambda p: (p.problem, p.key))
    return check


def verify(
    client: Any,
    bucket: str,
    project_key: str,
    run: str | None = None,
    *,
    workers: int = 10,
    chunk: int = 1024 * 1024,
    on_run: Callable[[RunCheck], None] | None = None,
) -> VerifyResult:
    """Verify one run (``run``: timestamp, ``latest`` or run id) or, with ``run=None``, every run of
    the project. Raises :class:`RunNotFoundError` when the named run has no record."""
    project_key = project_key_argument(project_key)
    result = VerifyResult(project_key, bucket)
    targets: Sequence[tuple[RunRecord, str]]
    listed_superseded: dict[str, Mapping[str, Superseded]] = {}
    if run is None:
        listing = list_runs(client, bucket, project_key, storage=False, workers=workers)
        targets = [(s.record, s.record_key) for s in listing.runs]
        listed_superseded = {s.record.run_id: s.superseded for s in listing.runs}
        for warning in listing.warnings:
            key, _, detail = warning.partition(": ")
            result.unreadable_records.append(FileProblem("record-invalid", key, detail or warning))
    else:
        try:
            targets = [find_record(client, bucket, project_key, run)]
        except RecordInvalidError as exc:
            result.unreadable_records.append(FileProblem("record-invalid", run, str(exc)))
            targets = []
    for record, key in targets:
        replaced = listed_superseded.get(record.run_id) if run is None else superseded_files(
            client, bucket, record, workers=workers)
        check = verify_record(client, bucket, record, key, workers=workers, chunk=chunk, superseded=replaced)
        result.runs.append(check)
        if on_run is not None:
            on_run(check)
    return result
