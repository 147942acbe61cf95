"""Protecting a run from expiration, and lifting the protection.

The archive's expiration rules only select objects tagged ``artifact-backup:retention=standard``;
pinning re-tags every object of the run ``pinned``. ``PutObjectTagging`` replaces the whole tag set,
so the managed tag is written with it (the transition rule and the reader policy's conditions select
on it). The note saying why goes to ``{project}/_runs/{ts}/pin.json`` after the tags, so a note never
claims a protection that is not in place; the command is idempotent and can simply be run again
after a failure. An untimestamped run's files are tagged at the versions its record names: a copy a
later upload superseded is kept by its own tags, whatever the later run's are.

When the bucket has Object Lock, pinning also places a legal hold on every object of the run (its
artifacts and its record), which keeps their current versions from being deleted or overwritten
until ``unpin`` lifts it, whatever the retention period says. Whether the bucket has Object Lock is
asked once per command; a bucket without it, or a server that does not know the request, simply
gets no hold.
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
from artifact_contract.s3 import DENIED_CODES, MISSING_CODES, error_code, is_aws_error

from ..exceptions import ArchiveReadError, ArgumentInvalidError
from ._s3 import parallel_map, read_error
from .pin_note import PinNote, pin_key
from .summary import RunSummary

MAX_NOTE_CHARS = 2000
#: What S3 (or an S3-compatible server) answers for a bucket without Object Lock.
NO_OBJECT_LOCK_CODES = frozenset(
    {"ObjectLockConfigurationNotFoundError", "NotImplemented", "MethodNotAllowed", "InvalidRequest"}
)


def object_lock_enabled(client: Any, bucket: str) -> bool | None:
    """Whether the bucket has Object Lock; None when this identity may not ask (the tags are still
    set, and the result says the hold is unknown)."""
    try:
        answer = client.get_object_lock_configuration(Bucket=bucket)
    except Exception as exc:
        code = error_code(exc)
        if code in NO_OBJECT_LOCK_CODES:
            return False
        if code in DENIED_CODES:
            return None
        if is_aws_error(exc):
            raise read_error(exc, bucket=bucket, action="reading the Object Lock configuration") from None
        raise
    return answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"


def set_legal_hold(client: Any, bucket: str, key: str, *, on: bool, version_id: str | None = None) -> bool:
    """Place or lift the hold on the key's version (by default its current one); False when it is gone."""
    version = {"VersionId": version_id} if version_id else {}
    try:
        client.put_object_legal_hold(Bucket=bucket, Key=key, LegalHold={"Status": "ON" if on else "OFF"},
                                     **version)
    except Exception as exc:
        if error_code(exc) in MISSING_CODES:
            return False
        if is_aws_error(exc):
            action = f"{'placing' if on else 'lifting'} the legal hold on {key}"
            error = read_error(exc, bucket=bucket, action=action)
            if error.code == "access-denied":
                error = ArchiveReadError(
                    f"{action}: access denied", code="access-denied",
                    hint=f"the reader policy must allow s3:PutObjectLegalHold on arn:aws:s3:::{bucket}/* "
                         "(the stack grants it when deployed with objectLockMode)")
            raise error from None
        raise
    return True


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
    #: True: the bucket has Object Lock and the run's objects are held (pin) or released (unpin);
    #: False: the bucket has no Object Lock; None: the reader may not read the bucket's setting.
    object_lock: bool | None = False
    held: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"project_key": self.project_key, "run": self.run, "pinned": self.pinned,
                "retention": RETENTION_PINNED if self.pinned else RETENTION_STANDARD,
                "note": self.note.note, "note_key": self.note_key, "pin": self.note.to_dict(),
                "objects_tagged": len(self.tagged), "objects_missing": self.missing,
                "object_lock": self.object_lock,
                "legal_hold": ("ON" if self.pinned else "OFF") if self.object_lock else None,
                "objects_held": len(self.held)}


def set_retention(client: Any, bucket: str, summary: RunSummary, *, pinned: bool, note: str,
                  workers: int = 10) -> PinResult:
    """Hold (under Object Lock) and tag every object of the run, then record the note; returns what
    was tagged and held."""
    note = _checked_note(note, pinned=pinned)
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
    # Every object of the run: its files at the versions its record names, and its records (a
    # timestamp joined by several uploads has one each).
    held_objects = [(k, files[k].version_id) for k in keys]
    records = {summary.record_key, *(u.record_key for u in summary.uploads)}
    held_objects += [(k, None) for k in sorted(records)]
    locked = object_lock_enabled(client, bucket)
    held: list[str] = []
    if locked and pinned:
        # The hold first: a run reported pinned is already kept from deletion and overwriting.
        held = _hold(client, bucket, held_objects, on=True, workers=workers)
    done = parallel_map(tag, [files[k] for k in keys], workers)
    if locked and not pinned:
        held = _hold(client, bucket, held_objects, on=False, workers=workers)
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
        object_lock=locked,
        held=held,
    )


def _checked_note(note: str, *, pinned: bool) -> str:
    note = (note or "").strip()
    if pinned and not note:
        raise ArgumentInvalidError("--note is required: say why this run must be kept",
                                   hint='for example --note "Final production run - DO NOT DELETE"')
    if len(note) > MAX_NOTE_CHARS:
        raise ArgumentInvalidError(f"--note is longer than {MAX_NOTE_CHARS} characters")
    return note


def _hold(client: Any, bucket: str, objects: list[tuple[str, str | None]], *, on: bool,
          workers: int) -> list[str]:
    def one(item: tuple[str, str | None]) -> tuple[str, bool]:
        key, version_id = item
        return key, set_legal_hold(client, bucket, key, on=on, version_id=version_id)

    return [key for key, ok in parallel_map(one, objects, workers) if ok]
