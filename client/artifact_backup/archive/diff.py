"""What changed between two runs: the config first (how settings evolved), then every file by checksum.

File changes come from the two run records alone (SHA-256 per file); only config files that differ
are downloaded, and checked against their records before they are shown.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from artifact_contract import RecordedFile, RunRecord
from artifact_contract.s3 import is_aws_error

from ..exceptions import ChecksumMismatchError, RestoreRequiredError
from ._s3 import ObjectArchivedError, get_bytes, parallel_map, read_error
from .config import ReadConfig
from .download import restore_command
from .runs import safe_file
from .summary import RunSummary, run_label

CONFIG_TYPE = "config"


@dataclass(frozen=True)
class FileChange:
    type: str
    path: str
    status: str  # added | removed | changed
    size_a: int | None = None
    size_b: int | None = None
    sha256_a: str | None = None
    sha256_b: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "path": self.path, "status": self.status, "size_a": self.size_a,
                "size_b": self.size_b, "sha256_a": self.sha256_a, "sha256_b": self.sha256_b}


@dataclass(frozen=True)
class ConfigChange:
    """One config file that differs; ``diff`` is a unified diff, or None with ``note`` saying why not."""

    path: str
    status: str
    diff: str | None
    note: str | None = None
    main: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status, "main": self.main, "diff": self.diff,
                "note": self.note}


@dataclass
class RunDiff:
    project_key: str
    run_a: str
    run_b: str
    config_sha256_a: str | None
    config_sha256_b: str | None
    config: list[ConfigChange] = field(default_factory=list)
    changes: list[FileChange] = field(default_factory=list)
    unchanged: dict[str, int] = field(default_factory=dict)
    #: Types only one of the runs holds, with that run's files and bytes of them: a run uploaded
    #: without a type did not remove its files, so they are not listed as added or removed.
    only_in_a: dict[str, TypeTotal] = field(default_factory=dict)
    only_in_b: dict[str, TypeTotal] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return not self.changes and not self.only_in_a and not self.only_in_b

    def changes_per_type(self) -> dict[str, dict[str, list[FileChange]]]:
        grouped: dict[str, dict[str, list[FileChange]]] = {}
        for change in self.changes:
            groups = grouped.setdefault(change.type, {"added": [], "removed": [], "changed": []})
            groups[change.status].append(change)
        return dict(sorted(grouped.items()))

    def to_dict(self) -> dict[str, Any]:
        per_type = {
            t: {status: [c.to_dict() for c in items] for status, items in groups.items()}
            for t, groups in self.changes_per_type().items()
        }
        return {"project_key": self.project_key, "run_a": self.run_a, "run_b": self.run_b,
                "config_sha256_a": self.config_sha256_a, "config_sha256_b": self.config_sha256_b,
                "config_changed": self.config_sha256_a != self.config_sha256_b,
                "config": [c.to_dict() for c in self.config], "types": per_type,
                "unchanged": self.unchanged, "identical": self.identical,
                "only_in_a": {t: total.to_dict() for t, total in self.only_in_a.items()},
                "only_in_b": {t: total.to_dict() for t, total in self.only_in_b.items()}}


@dataclass(frozen=True)
class TypeTotal:
    files: int
    bytes: int

    def to_dict(self) -> dict[str, int]:
        return {"files": self.files, "bytes": self.bytes}


def types_in_one_run(a: RunRecord, b: RunRecord) -> tuple[dict[str, TypeTotal], dict[str, TypeTotal]]:
    """The types only ``a`` holds and those only ``b`` holds, each with its files and bytes."""
    def totals(record: RunRecord) -> dict[str, TypeTotal]:
        counts: dict[str, list[int]] = {}
        for f in record.files:
            count = counts.setdefault(f.type, [0, 0])
            count[0] += 1
            count[1] += f.size
        return {t: TypeTotal(n, size) for t, (n, size) in sorted(counts.items())}

    in_a, in_b = totals(a), totals(b)
    only_a = {t: v for t, v in in_a.items() if t not in in_b}
    return only_a, {t: v for t, v in in_b.items() if t not in in_a}


def compare_records(a: RunRecord, b: RunRecord) -> tuple[list[FileChange], dict[str, int]]:
    """Added, removed and changed files (by SHA-256), and the count of unchanged files per type."""
    files_a = {(f.type, f.path): f for f in a.files}
    files_b = {(f.type, f.path): f for f in b.files}
    changes: list[FileChange] = []
    unchanged: dict[str, int] = {}
    for type_path in sorted(files_a.keys() | files_b.keys()):
        fa, fb = files_a.get(type_path), files_b.get(type_path)
        type_name, path = type_path
        if fa is None and fb is not None:
            changes.append(FileChange(type_name, path, "added", size_b=fb.size, sha256_b=fb.sha256))
        elif fb is None and fa is not None:
            changes.append(FileChange(type_name, path, "removed", size_a=fa.size, sha256_a=fa.sha256))
        elif fa is not None and fb is not None and fa.sha256 != fb.sha256:
            changes.append(FileChange(type_name, path, "changed", fa.size, fb.size, fa.sha256, fb.sha256))
        else:
            unchanged[type_name] = unchanged.get(type_name, 0) + 1
    return changes, dict(sorted(unchanged.items()))


def unified(path: str, label_a: str, label_b: str, text_a: str | None, text_b: str | None) -> str:
    """A unified diff of one config file between two runs (``None``: the file is absent there)."""
    lines_a = (text_a or "").splitlines(keepends=True)
    lines_b = (text_b or "").splitlines(keepends=True)
    name_a = f"{label_a}/config/{path}" if text_a is not None else "/dev/null"
    name_b = f"{label_b}/config/{path}" if text_b is not None else "/dev/null"
    out = []
    for line in difflib.unified_diff(lines_a, lines_b, name_a, name_b):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _is_main(file: RecordedFile | None, record: RunRecord) -> bool:
    return file is not None and record.config_sha256 is not None and file.sha256 == record.config_sha256


def diff_runs(
    client: Any,
    bucket: str,
    a: RunSummary,
    b: RunSummary,
    *,
    config: ReadConfig | None = None,
    restore_options: Sequence[str] = (),
) -> RunDiff:
    config = config or ReadConfig()
    ra, rb = a.record, b.record
    changes, unchanged = compare_records(ra, rb)
    only_a, only_b = types_in_one_run(ra, rb)
    changes = [c for c in changes if c.type not in only_a and c.type not in only_b]
    result = RunDiff(ra.project_key, a.label, b.label, ra.config_sha256, rb.config_sha256,
                     changes=changes, unchanged=unchanged, only_in_a=only_a, only_in_b=only_b)
    files_a = {f.path: safe_file(f) for f in ra.files if f.type == CONFIG_TYPE}
    files_b = {f.path: safe_file(f) for f in rb.files if f.type == CONFIG_TYPE}
    config_changes = [c for c in changes if c.type == CONFIG_TYPE]

    def text(record: RunRecord, file: RecordedFile | None) -> tuple[str | None, str | None]:
        """(text, note): the file's text, or None and why it is not shown."""
        if file is None:
            return None, None
        if file.size > config.diff_max_bytes:
            return None, f"larger than {config.diff_max_bytes} bytes: compared by checksum only"
        try:
            raw = get_bytes(client, bucket, file.key, action=f"reading {file.key}",
                            version_id=file.version_id)
        except ObjectArchivedError:
            command = restore_command(record.project_key, run_label(record), include=[CONFIG_TYPE],
                                      options=restore_options)
            raise RestoreRequiredError(
                f"the config of run {run_label(record)} is in Glacier: {command}",
                command=command,
                files=[{"file": f"config/{file.path}", "key": file.key, "restore": "needed"}],
            ) from None
        if raw is None:
            return None, "no longer in the archive"
        if hashlib.sha256(raw).hexdigest() != file.sha256:
            raise ChecksumMismatchError(
                f"config/{file.path} of run {run_label(record)} does not match its checksum ({file.key})",
                files=[{"file": f"config/{file.path}", "key": file.key, "expected": file.sha256,
                        "actual": hashlib.sha256(raw).hexdigest()}],
            )
        try:
            return raw.decode("utf-8"), None
        except UnicodeDecodeError:
            return None, "not UTF-8 text: compared by checksum only"

    def one(change: FileChange) -> ConfigChange:
        fa, fb = files_a.get(change.path), files_b.get(change.path)
        text_a, note_a = text(ra, fa)
        text_b, note_b = text(rb, fb)
        note = note_a or note_b
        diff = None if note else unified(change.path, a.label, b.label, text_a, text_b)
        return ConfigChange(change.path, change.status, diff, note, _is_main(fa, ra) or _is_main(fb, rb))

    try:
        shown = parallel_map(one, config_changes, config.max_concurrency)
    except Exception as exc:
        if is_aws_error(exc):
            raise read_error(exc, bucket=bucket, action="reading config files") from None
        raise
    result.config = sorted(shown, key=lambda c: (not c.main, c.path))
    return result
