"""Upload tuning and progress reporting, shaped like s3transfer's ``TransferConfig`` and subscribers.

Sizes are plain byte counts with ``KB``/``MB`` helpers, as in s3transfer, so a caller tuning both
reads one vocabulary. Subscribers receive progress; they never influence the upload, and the
uploader serialises their calls, so a subscriber needs no locking of its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from artifact_contract import MAX_PACKED_FILE_BYTES

KB = 1024
MB = KB * KB
GB = MB * KB


@dataclass(frozen=True)
class UploadConfig:
    """How a run is cut into pieces and sent.

    :param pack_threshold: files smaller than this travel in packs (docs/protocol.md: 8 MiB).
    :param pack_max_bytes: input bytes one pack may hold (64 MiB): bounds the filer's work per piece.
    :param multipart_threshold: pieces at least this large are sent in parts (s3transfer).
    :param multipart_chunksize: part size of multipart uploads.
    :param max_concurrency: parallel requests to S3; also sizes botocore's connection pool.
    :param max_pending_packs: packs built ahead of the uploads, each a temporary file on disk.
    :param hash_chunksize: read size while hashing and packing.
    :param hash_workers: threads hashing large files while packs are being built.
    :param compress_level: gzip level of packs (1: the network, not the CPU, should be the limit).
    :param wait_timeout: seconds to wait for the filer's receipt after committing.
    :param poll_initial: first pause between receipt polls; it grows by ``poll_multiplier``...
    :param poll_max: ...up to this pause.
    :param resume_max_age: seconds after which an interrupted run is not resumed but started anew.
    :param temp_dir: where packs are built (default: the system's temporary folder).
    :param skip_unchanged: large files (those sent alone, at least ``pack_threshold``) that the
        archive already holds, same SHA-256 and size, are not sent again: the filer copies its
        earlier copy into the new run. Small files are packed and cheap to send, so always travel.
    """

    pack_threshold: int = 8 * MB
    pack_max_bytes: int = 64 * MB
    multipart_threshold: int = 8 * MB
    multipart_chunksize: int = 8 * MB
    max_concurrency: int = 10
    max_pending_packs: int = 4
    hash_chunksize: int = 1 * MB
    hash_workers: int = 4
    compress_level: int = 1
    wait_timeout: float = 900.0
    poll_initial: float = 0.5
    poll_multiplier: float = 1.5
    poll_max: float = 5.0
    resume_max_age: float = 7 * 24 * 3600.0
    temp_dir: str | None = None
    skip_unchanged: bool = True

    def __post_init__(self) -> None:
        if self.pack_threshold > MAX_PACKED_FILE_BYTES:
            # The filer refuses a packed file above the contract's limit, so a larger threshold
            # would have every run holding such a file refused after it was sent.
            raise ValueError(
                f"pack_threshold_mb may be at most {MAX_PACKED_FILE_BYTES // MB}: the filer refuses "
                f"packed files larger than {MAX_PACKED_FILE_BYTES // MB} MiB (larger files travel "
                f"alone), and {self.pack_threshold / MB:g} MiB was asked for"
            )
        if self.pack_threshold > self.pack_max_bytes:
            raise ValueError("pack_threshold must not exceed pack_max_bytes")
        if self.multipart_chunksize < 5 * MB:
            raise ValueError("multipart_chunksize must be at least 5 MiB (an S3 limit)")
        for name in ("max_concurrency", "max_pending_packs", "hash_chunksize", "hash_workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not 0 <= self.compress_level <= 9:
            raise ValueError("compress_level must be between 0 and 9")
        if self.wait_timeout < 0 or self.poll_initial <= 0 or self.poll_max <= 0:
            raise ValueError("wait_timeout, poll_initial and poll_max must be positive")


class BaseSubscriber:
    """Progress of one upload, as s3transfer's ``BaseSubscriber`` reports one transfer's.

    Override what you need; every method takes keyword arguments only and ignores unknown ones
    (``**kwargs``), so later versions can report more without breaking subscribers.
    """

    def on_collected(self, *, selection: Any, **kwargs: Any) -> None:
        """The files to send are known (``selection.files``, ``selection.dropped``)."""

    def on_planned(self, *, plan: Any, **kwargs: Any) -> None:
        """Files are assigned to packs and blobs; ``plan.total_bytes`` is the work ahead."""

    def on_file_hashed(self, *, path: str, size: int, **kwargs: Any) -> None:
        """One file was read and hashed (``path`` is ``{type}/{relative path}``)."""

    def on_bytes_sent(self, *, amount: int, **kwargs: Any) -> None:
        """``amount`` more bytes went to S3 (negative when a retried request starts over); ``content``
        (keyword) is the bytes of the run's files they stand for (a pack is sent compressed), which
        add up to ``plan.total_bytes`` with the reused files and the pieces skipped."""

    def on_file_reused(self, *, path: str, size: int, **kwargs: Any) -> None:
        """A large file is not sent: the archive holds it unchanged and the filer copies it."""

    def on_piece_done(self, *, piece: Any, skipped: bool, **kwargs: Any) -> None:
        """A pack or blob is in staging; ``skipped`` when an earlier attempt had already sent it
        (``content``, keyword: the bytes of files it carries)."""

    def on_committed(self, *, run_id: str, already: bool, **kwargs: Any) -> None:
        """The manifest is in staging; ``already`` when an earlier attempt had committed the run."""

    def on_waiting(self, *, elapsed: float, **kwargs: Any) -> None:
        """Still waiting for the filer's receipt after ``elapsed`` seconds; ``filer`` (keyword) is
        what it has done so far (:class:`~artifact_backup.upload.filer_progress.FilerProgress`),
        or None when its progress cannot be read."""


class Notifier:
    """Calls subscribers one at a time, from whichever worker thread reports (s3transfer's
    callbacks arrive on its threads), so subscribers need no locking; a subscriber without the
    method is skipped, and one that fails is logged, never allowed to break a transfer."""

    def __init__(self, subscribers: Iterable[Any]) -> None:
        self.subscribers = list(subscribers)
        self._lock = threading.Lock()

    def __call__(self, method: str, **kwargs: Any) -> None:
        if not self.subscribers:
            return
        with self._lock:
            for sub in self.subscribers:
                handler = getattr(sub, method, None)
                if handler is None:
                    continue
                try:
                    handler(**kwargs)
                except Exception:
                    logging.getLogger("artifact_backup").exception(
                        "progress subscriber %r failed in %s", sub, method
                    )
