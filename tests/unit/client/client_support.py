"""Shared names of the client's unit tests (constants, a counting hook, a stand-in filer), kept out
of conftest.py so test modules can import them unambiguously."""

from __future__ import annotations

import collections
import json
from pathlib import Path

from artifact_backup.transfer import BaseSubscriber
from artifact_contract import Receipt, archive_prefix
from tests.support.s3 import list_keys

ARCHIVE = "rmi-360-raw"
STAGING = "rmi-360-raw-staging"
PROJECT = "RMI25320"

CONFIG_TEXT = f"""\
schema_version: 1.2.0
project:
  slug: "{PROJECT}"
orchestrator:
  upload_artifacts_to_s3: true
  artifact_types:
    - config
    - logs
    - report
aws:
  s3_bucket_raw: "{ARCHIVE}"
"""


def write(path: Path, data: bytes | str = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


class Calls:
    """Counts S3 API calls made through a client (one per call, whatever the retries)."""

    def __init__(self, client) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.put_keys: list[str] = []
        client.meta.events.register("before-parameter-build.s3", self._count)

    def _count(self, model, params, **kwargs) -> None:
        self.counts[model.name] += 1
        if model.name == "PutObject":
            self.put_keys.append(params.get("Key", ""))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def reset(self) -> None:
        self.counts.clear()
        self.put_keys.clear()


class Filer(BaseSubscriber):
    """Answers like the filer, synchronously, the moment the run is committed: the first receipt
    poll then finds the receipt, so waiting is tested without any sleeping."""

    def __init__(self, s3, status: str = "filed", code: str | None = None, reason: str | None = None):
        self.s3, self.status, self.code, self.reason = s3, status, code, reason
        self.committed: list[str] = []

    def on_committed(self, *, run_id: str, already: bool, **kwargs) -> None:
        self.committed.append(run_id)
        key = next(
            k for k in list_keys(self.s3, STAGING, "incoming/") if k.endswith(f"/{run_id}/manifest.json")
        )
        manifest = self.s3.get_object(Bucket=STAGING, Key=key)["Body"].read()
        data = json.loads(manifest)
        receipt = Receipt(
            run_id=run_id,
            project_key=data["project_key"],
            status=self.status,
            timestamp=data["timestamp"],
            archive_bucket=ARCHIVE,
            prefixes=tuple(
                archive_prefix(data["project_key"], t, data["timestamp"])
                for t in sorted({f["type"] for f in data["files"]})
            ),
            files=len(data["files"]),
            code=self.code,
            reason=self.reason,
        )
        self.s3.put_object(
            Bucket=STAGING, Key=f"receipts/{data['project_key']}/{run_id}.json", Body=receipt.to_json()
        )
