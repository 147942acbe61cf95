"""Protecting a run from expiration, and lifting the protection.

The archive's expiration rules only select objects tagged ``artifact-backup:retention=standard``;
pinning re-tags every object of the run ``pinned``. ``PutObjectTagging`` replaces the whole tag set,
so the managed tag is written with it (the transition rule and the reader policy's conditions select
on it). The note saying why goes to ``{project}/_runs/{ts}/pin.json`` after the tags, so a note never
claims a protection that is not in place; the command is idempotent and can simply be run again
after a failure. An untimestamped run's files are tagged at the versions its record names: a copy a
later upload superseded is kept by its own tags, whatever the later run's are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from artifact_contract import (
    PIN_NOTE_NAME,
    RETENTION_PINNED,
    RETENTION_STANDARD,
    TAG_MANAGED,
    TAG_MANAGED_VALUE,
    TAG_RETENTION,
    RecordedFile,
)
from artifact_contract.s3 import MISSING_CODES, error_code, is_aws_error

from ..exceptions import ArchiveReadError, ArgumentInvalidError
from ._s3 import parallel_map, read_error
from .runs import PinNote, RunSummary, pin_key

MAX_NOTE_CHARS = 2000


def retention_tags(pinned: bool) -> list[dict[str, str]]:
    """The complete tag set of an artifact: the managed tag kept, retention set."""
    return [
        {"Key": TAG_MANAGED, "Value": TAG_MANAGED_VALUE},
        {"Key": TAG_RETENTION, "Value": RETENTION_PINNED if pinned else RETENTION_STANDARD},
    ]


@dataclass
class PinResult:
    project_key: str
    run: str
    pinned: bool
    note: PinNote
    note_key: str
    tagged: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"project_key": self.project_key, "run": self.run, "pinned": self.pinned,
                "retention": RETENTION_PINNED if self.pinned else RETENTION_STANDARD,
                "note": self.note.note, "note_key": self.note_key, "pin": self.note.to_dict(),
                "objects_tagged": len(self.tagged), "objects_missing": self.missing}


def set_retention(client: Any, bucket: str, summary: RunSummary, *, pinned: bool, note: str,
                  workers: int = 10) -> PinResult:
    """Tag every object of the run, then record the note; returns what was tagged."""
    note = (note or "").strip()
    if pinned and not note:
        raise ArgumentInvalidError("--note is required: say why this run must be kept",
                                   hint='for example --note "Final production run - DO NOT DELETE"')
    if len(note) > MAX_NOTE_CHARS:
        raise ArgumentInvalidError(f"--note is longer than {MAX_NOTE_CHARS} characters")
    record = summary.record
    tags = {"TagSet": retention_tags(pinned)}

    def tag(file: RecordedFile) -> tuple[str, bool]:
        key = file.key
        try:
            client.put_object_tagging(Bucket=bucket, Key=key, Tagging=tags, **file.version_args())
        except Exception as exc:
            if error_code(exc) in MISSING_CODES:
                return key, False
            if is_aws_error(exc):
                raise read_error(exc, bucket=bucket, action=f"tagging {key}") from None
            raise
        return key, True

    files = {f.key: f for f in record.files}
    keys = sorted(files)
    done = parallel_map(tag, [files[k] for k in keys], workers)
    pin = PinNote.now(record, pinned=pinned, note=note)
    key = pin_key(record)
    try:
        client.put_object(Bucket=bucket, Key=key, Body=pin.to_json(), ContentType="application/json")
    except Exception as exc:
        if not is_aws_error(exc):
            raise
        error = read_error(exc, bucket=bucket, action=f"writing the pin note {key}")
        if error.code == "access-denied":
            state = RETENTION_PINNED if pinned else RETENTION_STANDARD
            error = ArchiveReadError(
                f"all {len(keys)} objects of run {summary.label} are tagged retention={state}, but the "
                f"note could not be stored at {key}: access denied",
                code="access-denied",
                hint=f"the reader policy must allow s3:PutObject on arn:aws:s3:::{bucket}/*/_runs/*/"
                     f"{PIN_NOTE_NAME}; until then 'runs' does not show this change",
            )
        raise error from None
    return PinResult(
        project_key=record.project_key,
        run=summary.label,
        pinned=pinned,
        note=pin,
        note_key=key,
        tagged=[k for k, ok in done if ok],
        missing=[k for k, ok in done if not ok],
    )
