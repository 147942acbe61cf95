"""The commit (docs/protocol.md, step 5): the run's manifest, put last and only once."""

from __future__ import annotations

import hashlib
import platform
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from artifact_contract import Manifest, build_manifest, manifest_key
from artifact_contract.s3 import is_conflict, is_precondition_failed, now_iso

from .._version import __version__ as CLIENT_VERSION
from ..aws import translate_error
from ..transfer import Notifier
from .types import SendOutcome, StagingRun

CLIENT_NAME = "artifact-backup"


def run_manifest(
    run: StagingRun,
    outcome: SendOutcome,
    *,
    timestamp: str | None,
    archive_bucket: str,
    config_source: Path | None,
) -> Manifest:
    """The manifest of what was sent, validated exactly as the filer will (``build_manifest``: its
    bytes read back by the filer's own streaming reader). The result holds its files in a spool:
    close it once committed."""
    return build_manifest(
        run_id=run.run_id,
        project_key=run.project_key,
        timestamp=timestamp,
        archive_bucket=archive_bucket,
        created_at=now_iso(),
        files=outcome.files,
        pieces=outcome.pieces.values(),
        uploader=_uploader_info(),
        config_sha256=_sha256_of(config_source),
    )


def put_manifest(
    client: Any, bucket: str, manifest: Manifest, *, notify: Notifier, sleep: Callable[[float], None]
) -> bool:
    """Put the manifest, which commits the run; returns True when it was already committed.

    ``IfNoneMatch='*'`` makes the manifest immutable: a 412 means an earlier attempt of this very
    run committed it, which is success.
    """
    key = manifest_key(manifest.project_key, manifest.run_id)
    # Written entry by entry to a temporary file and put from it: a run of 200,000 files has a
    # manifest of tens of megabytes, which is never held in memory.
    with tempfile.TemporaryFile(prefix="artifact-manifest-") as body:
        manifest.write_json(body)
        return _put(client, bucket, key, body, manifest.run_id, notify=notify, sleep=sleep)


def _put(
    client: Any, bucket: str, key: str, body: Any, run_id: str, *, notify: Notifier,
    sleep: Callable[[float], None],
) -> bool:
    for attempt in range(4):
        body.seek(0)
        try:
            client.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                IfNoneMatch="*",
                ContentType="application/json",
                ChecksumAlgorithm="SHA256",
            )
        except Exception as exc:
            if is_precondition_failed(exc):
                notify("on_committed", run_id=run_id, already=True)
                return True
            if is_conflict(exc) and attempt < 3:
                sleep(0.2 * (attempt + 1))
                continue
            raise translate_error(exc, bucket=bucket, action="committing the manifest") from None
        break
    notify("on_committed", run_id=run_id, already=False)
    return False


def _uploader_info() -> dict[str, str]:
    return {
        "client": f"{CLIENT_NAME}/{CLIENT_VERSION}",
        "host": platform.node() or "unknown",
        "python": platform.python_version(),
    }


def _sha256_of(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
