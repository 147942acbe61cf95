"""A run as the read side shows it: its record, its pin and where each of its files is stored now.

``runs``, ``show``, ``download``, ``restore``, ``diff`` and ``pin`` all read a run this way, and
``--json`` prints :meth:`RunSummary.to_dict`, so every command names a run, its files and their
storage the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from artifact_contract import RecordedFile, RunRecord

from ._s3 import ListedObject
from .history import Superseded
from .joined import Upload
from .pin_note import PinNote

#: Storage "class" of a recorded file that is no longer in the archive (expired or deleted).
MISSING = "MISSING"


def run_label(record: RunRecord) -> str:
    """How commands name a run: its timestamp, or the run id of an untimestamped upload."""
    return record.timestamp or record.run_id


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
