"""What the filer has done of a run while the client waits for its receipt.

The filer keeps its progress in staging (``progress/{project}/{run_id}.json``), written at its
checkpoints and whenever a filing continues in a fresh invocation: the pieces it has verified and
the units (pieces, reused files) it has filed. The client reads it between receipt polls to show
the user what the wait is for. Nothing depends on it: a run filed within one checkpoint never has
one, and credentials without ``s3:GetObject`` on ``progress/{project}/*`` of the staging bucket are
refused; either way the wait shows the elapsed time alone, and a refusal stops further reads.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from artifact_contract import progress_key
from artifact_contract.s3 import body_of, is_denied, is_missing

log = logging.getLogger("artifact_backup")

#: The filer's progress object's schema name (lambdas/artifact_filer/progress.py).
PROGRESS_SCHEMA = "artifact-backup.filer-progress"
#: A progress object larger than this is not read: it only feeds a display.
MAX_PROGRESS_BYTES = 16 * 1024 * 1024
_REUSE_UNIT = "reuse:"


@dataclass(frozen=True)
class FilerProgress:
    """How far the filer is: pieces verified, files filed (None when the run's pieces are unknown),
    of the totals when they are known, and the invocations that worked on it so far."""

    pieces_verified: int
    pieces: int | None
    files_filed: int | None
    files: int | None
    invocations: int


@dataclass(frozen=True)
class RunUnits:
    """What the client sent: the files each piece carries, and the files listed for reuse."""

    files_per_piece: Mapping[str, int]
    reused: int

    @property
    def files(self) -> int:
        return sum(self.files_per_piece.values()) + self.reused


def run_units(entries: Any) -> RunUnits:
    """The units of a run from its manifest's file entries (one pass over the spool)."""
    per_piece: dict[str, int] = {}
    reused = 0
    for entry in entries:
        if entry.piece is None:
            reused += 1
        else:
            per_piece[entry.piece] = per_piece.get(entry.piece, 0) + 1
    return RunUnits(per_piece, reused)


def summarize(raw: bytes, units: RunUnits | None, pieces: int | None) -> FilerProgress | None:
    """A :class:`FilerProgress` of the filer's object, or None for anything else."""
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("schema") != PROGRESS_SCHEMA:
            return None
        verified = len(dict(data.get("verified") or {}))
        filed = [str(u) for u in data.get("filed") or ()]
        invocations = int(data.get("invocations") or 0)
    except (ValueError, TypeError):
        return None
    if units is None:
        return FilerProgress(verified, pieces, None, None, invocations)
    files_filed = sum(1 if u.startswith(_REUSE_UNIT) else units.files_per_piece.get(u, 0) for u in filed)
    return FilerProgress(verified, len(units.files_per_piece), files_filed, units.files, invocations)


class FilerProgressReader:
    """Reads one run's progress object; after a refusal (AccessDenied) it reads no more."""

    def __init__(self, client: Any, bucket: str, project_key: str, run_id: str, *,
                 units: RunUnits | None = None, pieces: int | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.key = progress_key(project_key, run_id)
        self.units = units
        self.pieces = pieces
        self.denied = False

    def read(self) -> FilerProgress | None:
        """The filer's progress now, or None (none yet, refused, unreadable)."""
        if self.denied:
            return None
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key)
            if int(response.get("ContentLength") or 0) > MAX_PROGRESS_BYTES:
                response["Body"].close()
                return None
            with body_of(response) as body:
                raw = body.read(MAX_PROGRESS_BYTES + 1)
        except Exception as exc:
            if is_denied(exc):
                self.denied = True
                log.info("the filer's progress s3://%s/%s cannot be read (access denied): the wait "
                         "shows the elapsed time only", self.bucket, self.key)
            elif not is_missing(exc):
                log.debug("reading the filer's progress failed: %s", exc)
            return None
        if len(raw) > MAX_PROGRESS_BYTES:
            return None
        return summarize(raw, self.units, self.pieces)
