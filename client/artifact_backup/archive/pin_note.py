"""A pinned run's note (``_runs/{ts}/pin.json``, or beside an untimestamped run's record): why it is
pinned, by whom and when; the tags on its files only say *that* it is."""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from artifact_contract import RecordInvalidError, RunRecord, dumps_record, pin_note_key
from artifact_contract.s3 import now_iso

from ._s3 import get_bytes

PIN_SCHEMA = "artifact-backup.pin"
PIN_VERSION = 1


def pin_key(record: RunRecord) -> str:
    """Where a run's pin note lives: beside its record, outside every artifact folder."""
    return pin_note_key(record.project_key, record.timestamp or None, record.run_id)



@dataclass(frozen=True)
class PinNote:
    """Why a run is pinned (or was unpinned), by whom and when: the tags only say *that* it is."""

    pinned: bool
    note: str
    at: str
    run_id: str
    by: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def now(cls, record: RunRecord, *, pinned: bool, note: str) -> PinNote:
        return cls(
            pinned=pinned,
            note=note,
            at=now_iso(),
            run_id=record.run_id,
            by={"host": platform.node() or "unknown"},
        )

    def to_dict(self) -> dict[str, Any]:
        return {"schema": PIN_SCHEMA, "version": PIN_VERSION, "pinned": self.pinned, "note": self.note,
                "at": self.at, "run_id": self.run_id, "by": dict(self.by)}

    def to_json(self) -> bytes:
        return dumps_record(self.to_dict())

    @classmethod
    def from_json(cls, raw: bytes | str) -> PinNote:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RecordInvalidError(f"pin note is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("schema") != PIN_SCHEMA:
            raise RecordInvalidError("document is not a pin note")
        return cls(pinned=bool(data.get("pinned")), note=str(data.get("note") or ""),
                   at=str(data.get("at") or ""), run_id=str(data.get("run_id") or ""),
                   by=dict(data.get("by") or {}))



def read_pin(client: Any, bucket: str, record: RunRecord) -> PinNote | None:
    key = pin_key(record)
    raw = get_bytes(client, bucket, key, action=f"reading pin note {key}")
    if raw is None:
        return None
    try:
        return PinNote.from_json(raw)
    except RecordInvalidError:
        return None
