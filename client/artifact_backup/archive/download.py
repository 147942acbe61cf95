"""Getting runs back onto disk, verified against the checksums their run records list.

Each file is streamed by s3transfer (ranged parts in parallel for large files, many files at once)
into a temporary name beside its destination, hashed, and only then renamed to its real name, so a
damaged or replaced archive object never appears under a name a person or a script would trust.
Files in Glacier or Deep Archive are not attempted: they are reported together, with the
``artifact-backup restore`` command that makes them readable. Names the destination cannot hold
are found before anything is written (:mod:`.local_names`), and a file is never put in place over
one this download has already put there.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artifact_contract import RecordedFile
from artifact_contract.s3 import error_code, is_aws_error, is_missing

from .. import shell
from ..exceptions import (
    ChecksumMismatchError,
    DestinationNameError,
    FileUnreadableError,
    RestoreRequiredError,
    RunNotFoundError,
)
from ..paths import discard, io_path
from ..transfer import Notifier
from ._s3 import head, read_error
from .config import ReadConfig
from .local_names import Placed, Renamed, plan_names, refuse, rules_for, write_error
from .prices import ARCHIVE_CLASSES
from .runs import select_files
from .summary import MISSING, RunSummary

#: Suffix of the temporary name a file is written under until its checksum is confirmed.
PART_SUFFIX = ".artifact-backup-part"


def restore_command(project_key: str, run: str, *, include: Iterable[str] | None = None,
                    files: Iterable[str] | None = None, options: Sequence[str] = ()) -> str:
    """The command line that restores what a download could not read, quoted for the user's shell."""
    argv = ["artifact-backup", "restore", project_key, run]
    if include:
        argv += ["--include", *include]
    for name in files or ():
        argv += ["--file", name]
    argv += list(options)
    return shell.join(argv)


def restore_state(response: dict[str, Any] | None) -> str:
    """``none``, ``in-progress`` or ``restored`` from a HEAD's ``Restore`` header."""
    header = (response or {}).get("Restore") or ""
    if 'ongoing-request="true"' in header:
        return "in-progress"
    if 'ongoing-request="false"' in header:
        return "restored"
    return "none"


def sha256_of(path: Path, chunk: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class FileOutcome:
    run: str
    file: RecordedFile
    local_path: Path
    # downloaded | present | restore-needed | restore-in-progress | corrupt | missing | collision
    status: str
    storage_class: str | None = None
    actual_sha256: str | None = None
    #: Set when the file is written under a safe name instead of its own (``safe_names``).
    renamed: Renamed | None = None
    #: The file this one would have replaced (``collision``).
    collides_with: str | None = None
    #: The later untimestamped run that wrote this file again, when one did.
    superseded_by: str | None = None

    @property
    def name(self) -> str:
        return f"{self.file.type}/{self.file.path}"

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "file": self.name, "key": self.file.key, "path": str(self.local_path),
                "size": self.file.size, "sha256": self.file.sha256, "status": self.status,
                "storage_class": self.storage_class, "actual_sha256": self.actual_sha256,
                "saved_as": self.renamed.safe_name if self.renamed else None}


@dataclass
class DownloadResult:
    project_key: str
    run: str
    destination: Path
    files: list[FileOutcome] = field(default_factory=list)
    bytes_downloaded: int = 0
    elapsed: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def bytes(self) -> int:
        return sum(f.file.size for f in self.files)

    @property
    def renamed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.renamed is not None]

    def to_dict(self) -> dict[str, Any]:
        statuses = ("downloaded", "present", "restore-needed", "restore-in-progress", "corrupt", "missing",
                    "collision")
        return {
            "project_key": self.project_key,
            "run": self.run,
            "destination": str(self.destination),
            "counts": {s: self.count(s) for s in statuses},
            "bytes": self.bytes,
            "bytes_downloaded": self.bytes_downloaded,
            "elapsed": round(self.elapsed, 3),
            "files": [f.to_dict() for f in self.files],
        }


@functools.cache
def _progress_class() -> type:
    """s3transfer subscriber: hands S3 the size the run record already knows (no HEAD per file)
    and forwards received bytes to our own subscribers. Built on first use: s3transfer loads late."""
    from s3transfer.subscribers import BaseSubscriber

    class Progress(BaseSubscriber):
        def __init__(self, size: int, notify: Notifier) -> None:
            self.size = size
            self.notify = notify

        def on_queued(self, future: Any, **kwargs: Any) -> None:
            future.meta.provide_transfer_size(self.size)

        def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
            self.notify("on_bytes_received", amount=bytes_transferred)

    return Progress


def _local_path(root: Path, relative: str, name: str) -> Path:
    path = root.joinpath(*relative.split("/"))
    # The contract already refuses '..' and absolute paths, and the names were checked against this
    # system's rules; this guards the join itself.
    if not path.resolve().is_relative_to(root.resolve()):
        raise FileUnreadableError(f"{name} would be written outside {root}")
    return path


def _plan(root: Path, runs: Sequence[RunSummary], include: list[str], names: list[str],
          per_run_folders: bool, safe_names: bool) -> list[FileOutcome]:
    """Every chosen file with the local path it goes to; raises :class:`DestinationNameError`,
    before anything is written, when names the destination cannot hold need ``safe_names``."""
    chosen = [(summary, file) for summary in runs
              for file in select_files(summary.record, include=include, files=names)]
    relative = [f"{s.label}/{f.type}/{f.path}" if per_run_folders else f"{f.type}/{f.path}"
                for s, f in chosen]
    plans = plan_names(relative, rules_for(root)) if chosen else []
    renamed = [(s.label, plan) for (s, _f), plan in zip(chosen, plans, strict=True) if plan is not None]
    if renamed and not safe_names:
        raise refuse(renamed, root)
    outcomes = []
    for (summary, file), rel, plan in zip(chosen, relative, plans, strict=True):
        path = _local_path(root, plan.safe_name if plan else rel, f"{file.type}/{file.path}")
        later = summary.superseded.get(file.key)
        outcomes.append(FileOutcome(summary.label, file, path, "pending", summary.storage_class_of(file),
                                    renamed=plan, superseded_by=later and later.by_run_id))
    return outcomes


def download(
    client: Any,
    bucket: str,
    runs: Sequence[RunSummary],
    destination: str | os.PathLike[str],
    *,
    run_argument: str,
    include: Iterable[str] | None = None,
    files: Iterable[str] | None = None,
    per_run_folders: bool = False,
    config: ReadConfig | None = None,
    subscribers: Iterable[Any] = (),
    restore_options: Sequence[str] = (),
    safe_names: bool = False,
) -> DownloadResult:
    """Download the chosen files of ``runs`` (their storage already surveyed) under ``destination``
    as ``{type}/{path}`` (``{run}/{type}/{path}`` with ``per_run_folders``).

    Files already there with the right checksum are kept (a second attempt after a restore fetches
    only the rest). Names the destination cannot hold raise :class:`DestinationNameError` before
    anything is written, unless ``safe_names`` writes those files under safe names. Raises
    :class:`ChecksumMismatchError`, then :class:`RunNotFoundError` (files gone from the archive),
    then :class:`RestoreRequiredError`, after downloading everything it could.
    """
    config = config or ReadConfig()
    notify = Notifier(subscribers)
    include = list(include or ())
    names = list(files or ())
    root = Path(destination)
    started = time.monotonic()
    project_key = runs[0].record.project_key if runs else ""
    result = DownloadResult(project_key, run_argument, root)

    todo = _plan(root, runs, include, names, per_run_folders, safe_names)
    result.files.extend(todo)

    notify("on_download_planned", files=len(todo), bytes=sum(o.file.size for o in todo))
    fetch: list[FileOutcome] = []
    placed = Placed()
    for outcome in todo:
        path = Path(io_path(outcome.local_path))
        if _intact(path, outcome, config):
            other = placed.add(path, f"{outcome.run}/{outcome.name}")
            if other is not None:
                outcome.status, outcome.collides_with = "collision", other
                continue
            outcome.status = "present"
            notify("on_file_downloaded", path=outcome.name, size=outcome.file.size, skipped=True)
            continue
        if outcome.storage_class == MISSING:
            outcome.status = "missing"
            continue
        if outcome.storage_class in ARCHIVE_CLASSES:
            state = restore_state(head(client, bucket, outcome.file.key, version_id=outcome.file.version_id))
            if state != "restored":
                outcome.status = "restore-in-progress" if state == "in-progress" else "restore-needed"
                continue
        fetch.append(outcome)

    if fetch:
        _transfer(client, bucket, fetch, config, notify, result, placed)
    result.elapsed = time.monotonic() - started
    _raise_for(result, run_argument, include, names, restore_options)
    return result


def _intact(path: Path, outcome: FileOutcome, config: ReadConfig) -> bool:
    """Whether the destination already holds the file. One that cannot be read (another program
    holds it) could not be replaced either: it is named now, before anything is downloaded."""
    try:
        return path.is_file() and path.stat().st_size == outcome.file.size and \
            sha256_of(path, config.hash_chunksize) == outcome.file.sha256
    except OSError as exc:
        raise write_error(outcome.local_path, exc) from None


def _transfer(client: Any, bucket: str, fetch: list[FileOutcome], config: ReadConfig, notify: Notifier,
              result: DownloadResult, placed: Placed) -> None:
    from s3transfer.manager import TransferManager

    pending: list[tuple[FileOutcome, Path, Any]] = []
    manager = TransferManager(client, config.transfer_config())
    try:
        for outcome in fetch:
            target = Path(io_path(outcome.local_path))
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise write_error(outcome.local_path.parent, exc) from None
            part = f".{outcome.local_path.name}.{uuid.uuid4().hex[:8]}{PART_SUFFIX}"
            temp = Path(io_path(outcome.local_path.with_name(part)))
            # An earlier untimestamped run's file is read at the version its record names.
            future = manager.download(bucket, outcome.file.key, str(temp),
                                      extra_args=outcome.file.version_args() or None,
                                      subscribers=[_progress_class()(outcome.file.size, notify)])
            pending.append((outcome, temp, future))
        for outcome, temp, future in pending:
            try:
                future.result()
            except Exception as exc:
                _discard(temp)
                if error_code(exc) == "InvalidObjectState":  # archived since the survey
                    outcome.status = "restore-needed"
                    continue
                if is_missing(exc):
                    outcome.status = "missing"
                    continue
                if is_aws_error(exc):
                    raise read_error(exc, bucket=bucket, action=f"downloading {outcome.file.key}") from None
                if isinstance(exc, OSError):
                    raise write_error(outcome.local_path, exc) from None
                raise
            actual = sha256_of(temp, config.hash_chunksize)
            if actual != outcome.file.sha256:
                _discard(temp)
                outcome.status, outcome.actual_sha256 = "corrupt", actual
                continue
            if not _place(temp, outcome, placed):
                continue
            outcome.status = "downloaded"
            result.bytes_downloaded += outcome.file.size
            notify("on_file_downloaded", path=outcome.name, size=outcome.file.size, skipped=False)
    except BaseException:
        manager.shutdown(cancel=True)
        for _outcome, temp, _future in pending:
            _discard(temp)
        raise
    manager.shutdown()


def _place(temp: Path, outcome: FileOutcome, placed: Placed) -> bool:
    """Put a verified download in place, unless it would replace a file this download put there."""
    other = placed.put(temp, Path(io_path(outcome.local_path)), outcome.local_path,
                       f"{outcome.run}/{outcome.name}")
    if other is not None:
        outcome.status, outcome.collides_with = "collision", other
        return False
    return True


def _discard(path: Path) -> None:
    """Remove a partial download; a failure is logged, never raised over the error that led here."""
    discard(path, "partial download")


def _raise_for(result: DownloadResult, run: str, include: list[str], names: list[str],
               restore_options: Sequence[str]) -> None:
    collided = [f for f in result.files if f.status == "collision"]
    if collided:
        first = collided[0]
        raise DestinationNameError(
            f"{first.name} of run {first.run} would replace {first.collides_with}, downloaded just before "
            f"into the same file of {result.destination}: it was not written",
            files=[{"file": f.name, "run": f.run, "problem": f"same file as {f.collides_with}",
                    "safe_name": None} for f in collided],
            hint="download into a folder that tells these names apart, or fetch the file alone into "
                 "another folder with --file TYPE/PATH --to DIR",
        )
    corrupt = [f for f in result.files if f.status == "corrupt"]
    if corrupt:
        first = corrupt[0]
        more = f" and {len(corrupt) - 1} more" if len(corrupt) > 1 else ""
        raise ChecksumMismatchError(
            f"{first.name} of run {first.run} does not match its checksum{more}: the archive copy "
            f"({first.file.key}) is damaged or was replaced; it was not kept",
            files=[{"file": f.name, "run": f.run, "key": f.file.key, "expected": f.file.sha256,
                    "actual": f.actual_sha256} for f in corrupt],
            result=result,
            hint="\n".join(f"  {f.file.key}: expected sha256 {f.file.sha256}, got {f.actual_sha256}"
                           for f in corrupt)
            + "".join(f"\n  {f.name} was superseded by run {f.superseded_by}, and run {f.run}'s record "
                      "predates version ids, so it names no copy of its own"
                      for f in corrupt if f.superseded_by and not f.file.version_id)
            + "\nan earlier version may be intact: the archive bucket is versioned",
        )
    missing = [f for f in result.files if f.status == "missing"]
    if missing:
        raise RunNotFoundError(
            f"{len(missing)} file(s) of run {run} are no longer in the archive "
            f"(expired or deleted), e.g. {missing[0].file.key}",
            hint="pin runs that must be kept: artifact-backup pin PROJECT RUN --note TEXT",
        )
    waiting = [f for f in result.files if f.status in ("restore-needed", "restore-in-progress")]
    if waiting:
        command = restore_command(result.project_key, run, include=include, files=names,
                                  options=restore_options)
        started = [f for f in waiting if f.status == "restore-in-progress"]
        if len(started) == len(waiting):
            message = (f"{len(waiting)} file(s) of run {run} are being restored from Glacier: "
                       "run the download again once the restore has finished")
            hint = f"restores take minutes (Expedited) to hours (Standard, Bulk); status: {command}"
        else:
            message = (f"{len(waiting)} file(s) of run {run} are in Glacier and must be restored "
                       "before they can be downloaded")
            hint = (f"run:\n  {command}\nthen this download again when the restore is done "
                    "(files already downloaded are kept)")
        raise RestoreRequiredError(
            message,
            command=command,
            files=[{"file": f.name, "run": f.run, "key": f.file.key, "storage_class": f.storage_class,
                    "restore": "in-progress" if f.status == "restore-in-progress" else "needed"}
                   for f in waiting],
            result=result,
            hint=hint,
        )

