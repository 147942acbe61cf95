"""The uploader's data: what to back up, what happened, and what sending a run's pieces did."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from artifact_contract import (
    ContractError,
    FileEntry,
    FileSpool,
    ManifestInvalidError,
    Piece,
    Receipt,
    Reuse,
    archive_prefix,
    manifest_key,
    piece_key,
    validate_timestamp,
)

from ..collect import DroppedFile, LocalFile
from ..exceptions import ArgumentInvalidError
from ..pack import FileDigest, PiecePlan
from ..part_crc import PartCrcs


@dataclass(frozen=True)
class BackupRequest:
    """What to back up, as the user guide's command line says it.

    ``timestamp``: ``True`` stamps the run with the current time (``--timestamp``), a
    ``YYYYMMDD_HHMM`` string uses that stamp (``--custom-timestamp``), ``False`` files the run
    without a timestamp level.
    """

    folder: str | os.PathLike[str]
    project_key: str | None = None
    include: Sequence[str] | None = None
    folder_type: str | None = None
    timestamp: bool | str = False
    config_path: str | os.PathLike[str] | None = None

    def timestamp_choice(self) -> tuple[str, str | None]:
        """(mode, value): ``("none", None)``, ``("now", None)`` or ``("custom", "20251030_1200")``."""
        if self.timestamp is True:
            return "now", None
        if self.timestamp is False or self.timestamp is None:
            return "none", None
        try:
            return "custom", validate_timestamp(str(self.timestamp))
        except ContractError as exc:
            raise ArgumentInvalidError(f"--custom-timestamp: {exc}") from None


@dataclass
class UploadResult:
    """What happened to one backup: filed, committed (not waited for), a dry run, or skipped."""

    status: str
    project_key: str | None = None
    run_id: str | None = None
    timestamp: str | None = None
    archive_bucket: str | None = None
    staging_bucket: str | None = None
    types: tuple[str, ...] = ()
    files: int = 0
    bytes: int = 0
    files_per_type: dict[str, int] = field(default_factory=dict)
    dropped: tuple[DroppedFile, ...] = ()
    warnings: tuple[str, ...] = ()
    pieces: int = 0
    pieces_sent: int = 0
    pieces_skipped: int = 0
    bytes_sent: int = 0
    #: Large files not sent because the archive already holds them (skip-unchanged).
    files_reused: int = 0
    bytes_reused: int = 0
    #: The filer could not reuse an earlier copy, so the run was sent again with every file;
    #: ``bytes_sent`` counts both attempts.
    resent: bool = False
    resumed: bool = False
    already_committed: bool = False
    receipt: Receipt | None = None
    reason: str | None = None
    plan: PiecePlan | None = None
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in ("filed", "committed", "dry-run", "skipped")

    @property
    def already_filed(self) -> bool:
        """The archive already held this very run (same files at the same place), filed by an earlier
        upload: a repeated command, answered as filed without writing anything."""
        return self.receipt is not None and self.receipt.already_filed

    @property
    def filed_run_id(self) -> str | None:
        """The run id whose files the archive holds: the earlier upload's when ``already_filed``."""
        return self.receipt.filed_run_id if self.receipt is not None else None

    def archive_prefixes(self) -> list[str]:
        """The archive folders of this run, as the filer reported them or as the layout puts them."""
        if self.receipt is not None and self.receipt.prefixes:
            return list(self.receipt.prefixes)
        if not self.project_key or self.status == "skipped":
            return []
        types = [t for t in self.types if self.files_per_type.get(t)] or list(self.types)
        return [archive_prefix(self.project_key, t, self.timestamp) for t in types]

    def archive_urls(self) -> list[str]:
        bucket = (self.receipt.archive_bucket if self.receipt else None) or self.archive_bucket
        return [p if p.startswith("s3://") else f"s3://{bucket}/{p}" for p in self.archive_prefixes()]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "status": self.status,
            "project_key": self.project_key,
            "run_id": self.run_id,
            "timestamp": self.timestamp,
            "archive_bucket": self.archive_bucket,
            "staging_bucket": self.staging_bucket,
            "types": list(self.types),
            "files": self.files,
            "bytes": self.bytes,
            "files_per_type": dict(self.files_per_type),
            "dropped": [d.to_dict() for d in self.dropped],
            "warnings": list(self.warnings),
            "pieces": self.pieces,
            "pieces_sent": self.pieces_sent,
            "pieces_skipped": self.pieces_skipped,
            "bytes_sent": self.bytes_sent,
            "files_reused": self.files_reused,
            "bytes_reused": self.bytes_reused,
            "resent": self.resent,
            "resumed": self.resumed,
            "already_committed": self.already_committed,
            "already_filed": self.already_filed,
            "filed_run_id": self.filed_run_id,
            "archive_urls": self.archive_urls(),
            "receipt": self.receipt.to_dict() if self.receipt else None,
            "reason": self.reason,
            "elapsed_seconds": round(self.elapsed, 3),
        }
        if self.plan is not None:
            data["plan"] = self.plan.to_dict()
        return data


@dataclass(frozen=True)
class StagingRun:
    """Where one run's pieces go in staging, and what an earlier attempt of the run already put
    there: ``existing`` maps each key under the run's prefix to its size (empty for a fresh run id,
    which cannot have any; see :func:`.resume.sent_before`)."""

    bucket: str
    project_key: str
    run_id: str
    existing: Mapping[str, int] = field(default_factory=dict)

    def key(self, piece_id: str) -> str:
        return piece_key(self.project_key, self.run_id, piece_id)

    def holds(self, piece_id: str, size: int) -> bool:
        """Whether an earlier attempt already sent this piece, whole."""
        return self.existing.get(self.key(piece_id)) == size

    def holds_manifest(self) -> bool:
        """Whether an earlier attempt already committed the run."""
        return manifest_key(self.project_key, self.run_id) in self.existing


@dataclass(frozen=True)
class BlobJob:
    """A large file on its way: its hash (running on the hash pool) and, when it is sent while
    being hashed, its name's slot (:func:`artifact_contract.blob_slot_id`); None when it is hashed
    first and named by its content."""

    file: LocalFile
    hashed: Future[FileDigest]
    slot: str | None
    #: Its part CRC32Cs, taken by the hash's read for the send.
    parts: PartCrcs | None = None


@dataclass
class SendOutcome:
    """What sending a run's pieces did: the manifest's files and pieces, and the counts of the result.

    s3transfer reports progress from its own threads, so the counts it moves take the lock. The
    files go to a spool on disk (a run may list 200,000): :meth:`close` frees it.
    """

    files: FileSpool = field(default_factory=FileSpool)
    pieces: dict[str, Piece] = field(default_factory=dict)
    sent: int = 0
    skipped: int = 0
    bytes_sent: int = 0
    reused: int = 0
    reused_bytes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add_bytes_sent(self, amount: int) -> None:
        with self._lock:
            self.bytes_sent += amount

    def count_sent(self) -> None:
        with self._lock:
            self.sent += 1

    def add_reused(self, f: LocalFile, sha256: str, crc64nvme: str | None = None) -> None:
        """A file the archive already holds: listed for the filer to copy, not sent. Its CRC64NVME
        travels too: the filer's copy must end up holding exactly it."""
        self.add_file(FileEntry(f.type, f.path, f.size, sha256, None, Reuse(sha256), crc64nvme))
        self.reused += 1
        self.reused_bytes += f.size

    def add_file(self, entry: FileEntry) -> None:
        """List a file for the manifest; a file listed twice breaks the contract, as the filer says."""
        if not self.files.add(entry, entry.member_name):
            raise ManifestInvalidError(f"file {entry.type}/{entry.path} is listed twice")

    def close(self) -> None:
        self.files.close()
