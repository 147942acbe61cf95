"""What the filer writes back: the receipt (to staging) and the run record (to the archive).

Both are small JSON documents with a schema name and version, so that old records stay readable as
the format grows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .exceptions import ReceiptInvalidError

RECEIPT_SCHEMA = "artifact-backup.receipt"
RUN_RECORD_SCHEMA = "artifact-backup.run"
CLAIM_SCHEMA = "artifact-backup.claim"
RECORD_VERSION = 1

#: Metadata the filer puts on every archived object (``x-amz-meta-*``), so one object tells its story.
META_SHA256 = "sha256"
META_RUN_ID = "run-id"
META_PROJECT_KEY = "project-key"
META_ARTIFACT_TYPE = "artifact-type"
META_TIMESTAMP = "run-timestamp"

#: Tags on every archived artifact; the infrastructure's lifecycle rules select on them, so data the
#: filer did not write (the guide's ``reels/``) is never transitioned or expired.
TAG_MANAGED = "artifact-backup:managed"
TAG_MANAGED_VALUE = "true"
TAG_RETENTION = "artifact-backup:retention"
RETENTION_STANDARD = "standard"
RETENTION_PINNED = "pinned"

ReceiptStatus = Literal["filed", "refused"]

#: ``extra`` of a *filed* receipt whose run held exactly the files of a run filed before it (a
#: command repeated as it was): nothing new was written, and the receipt points at that run.
RECEIPT_ALREADY_FILED = "already_filed"
RECEIPT_FILED_RUN_ID = "filed_run_id"


@dataclass(frozen=True)
class Receipt:
    """The filer's answer about one run: filed (and where), or refused (and why)."""

    run_id: str
    project_key: str
    status: ReceiptStatus
    timestamp: str | None = None
    archive_bucket: str | None = None
    run_record: str | None = None
    prefixes: tuple[str, ...] = ()
    files: int = 0
    bytes: int = 0
    reason: str | None = None
    code: str | None = None
    at: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def filed(self) -> bool:
        return self.status == "filed"

    @property
    def already_filed(self) -> bool:
        """Filed by an earlier run with the very same files; this one wrote nothing to the archive."""
        return self.filed and self.extra.get(RECEIPT_ALREADY_FILED) is True

    @property
    def filed_run_id(self) -> str:
        """The run whose files the archive holds: this one, or the earlier identical run."""
        earlier = self.extra.get(RECEIPT_FILED_RUN_ID) if self.already_filed else None
        return earlier if isinstance(earlier, str) else self.run_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": RECEIPT_SCHEMA,
            "version": RECORD_VERSION,
            "run_id": self.run_id,
            "project_key": self.project_key,
            "status": self.status,
            "timestamp": self.timestamp,
            "archive_bucket": self.archive_bucket,
            "run_record": self.run_record,
            "prefixes": list(self.prefixes),
            "files": self.files,
            "bytes": self.bytes,
            "reason": self.reason,
            "code": self.code,
            "at": self.at,
            "extra": dict(self.extra),
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Receipt:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ReceiptInvalidError(f"receipt is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("schema") != RECEIPT_SCHEMA:
            raise ReceiptInvalidError("receipt has the wrong schema")
        if data.get("status") not in ("filed", "refused"):
            raise ReceiptInvalidError(f"receipt status {data.get('status')!r} is unknown")
        return cls(
            run_id=data["run_id"],
            project_key=data["project_key"],
            status=data["status"],
            timestamp=data.get("timestamp"),
            archive_bucket=data.get("archive_bucket"),
            run_record=data.get("run_record"),
            prefixes=tuple(data.get("prefixes") or ()),
            files=int(data.get("files") or 0),
            bytes=int(data.get("bytes") or 0),
            reason=data.get("reason"),
            code=data.get("code"),
            at=data.get("at"),
            extra=data.get("extra") or {},
        )


#: How run records and claims are serialised (``json.dumps`` options), wherever they are written.
RECORD_JSON_OPTIONS: Mapping[str, Any] = {"ensure_ascii": False, "sort_keys": True, "indent": 1}


def dumps_record(data: Mapping[str, Any]) -> bytes:
    """Serialise a run record or claim the same way everywhere, so re-filing writes equal bytes."""
    return json.dumps(data, **RECORD_JSON_OPTIONS).encode()
