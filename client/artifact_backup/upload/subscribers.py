"""s3transfer's subscribers, bridged to our :class:`~artifact_backup.transfer.Notifier`.

s3transfer calls a subscriber's ``on_queued``, ``on_progress`` and ``on_done`` by name, so these
classes do not subclass its ``BaseSubscriber``: importing this module does not import s3transfer
(and botocore) before anything is sent, and ``--help`` and ``--dry-run`` stay fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from artifact_contract import Piece

from ..paths import discard
from ..transfer import Notifier
from .types import SendOutcome


class ListedSize:
    """Tells s3transfer the size to send (s3transfer's subscriber interface)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def on_queued(self, future: Any, **kwargs: Any) -> None:
        future.meta.provide_transfer_size(self.size)


class PieceProgress(ListedSize):
    """One piece's upload: its bytes and its completion counted in the outcome and told to the
    subscribers; ``cleanup`` (a pack's temporary file) is removed once the upload is done."""

    def __init__(
        self,
        piece: Piece | Callable[[], Piece],
        size: int,
        cleanup: Path | None,
        *,
        outcome: SendOutcome,
        notify: Notifier,
    ) -> None:
        super().__init__(size)
        # A blob sent while being hashed becomes a Piece once its hash is known.
        self.piece, self.cleanup = piece, cleanup
        self._outcome, self._notify = outcome, notify

    def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
        self._outcome.add_bytes_sent(bytes_transferred)
        self._notify("on_bytes_sent", amount=bytes_transferred)

    def on_done(self, future: Any, **kwargs: Any) -> None:
        if self.cleanup is not None:
            discard(self.cleanup, "pack file")
        try:
            future.result()
        except BaseException:  # noqa: S110 - the caller's future.result() raises it
            return
        self._outcome.count_sent()
        try:
            piece = self.piece if isinstance(self.piece, Piece) else self.piece()
        except BaseException:  # noqa: S110 - the hash's failure is raised by the caller
            return
        self._notify("on_piece_done", piece=piece, skipped=False)
