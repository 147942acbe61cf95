"""Skip unchanged (docs/protocol.md, steps 3 and 6): large files the archive already holds are not
sent, and a run whose reuse the filer refuses is sent again in full.

Skipping unchanged files only saves time, so nothing here ever fails an upload.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from artifact_contract import Piece, ReuseIndex, ReuseIndexInvalidError, reuse_index_key
from artifact_contract.s3 import is_denied, is_missing

from ..collect import LocalFile
from .types import BackupRequest, UploadResult

if TYPE_CHECKING:
    from .manager import Uploader
    from .sender import PieceSender

log = logging.getLogger("artifact_backup")


def read_reuse_index(client: Any, bucket: str, project_key: str) -> ReuseIndex | None:
    """The project's reuse index (one GET); None when there is none or it cannot be read.

    An index that is missing, unreadable or not permitted (an uploader policy from before the
    index) just means every file is sent.
    """
    key = reuse_index_key(project_key)
    try:
        response = client.get_object(Bucket=bucket, Key=key)
        raw = response["Body"].read()
    except Exception as exc:
        if not (is_missing(exc) or is_denied(exc)):
            log.warning("the reuse index s3://%s/%s cannot be read (%s): sending every file",
                        bucket, key, exc)
        return None
    try:
        return ReuseIndex.from_json(raw, project_key)
    except ReuseIndexInvalidError as exc:
        log.warning("the reuse index s3://%s/%s is unreadable (%s): sending every file", bucket, key, exc)
        return None


def hash_first_sizes(blobs: Sequence[LocalFile], reusable: ReuseIndex | None) -> set[int]:
    """The sizes of the large files hashed before they are sent: a size that the index or another
    large file of the run has, so the file may be reused or travel once for both."""
    sizes = Counter(f.size for f in blobs)
    hash_first = {size for size, n in sizes.items() if n > 1}
    return hash_first | (reusable.sizes() if reusable is not None else frozenset())


def reuse_if_indexed(sender: PieceSender, f: LocalFile, piece: Piece, reusable: ReuseIndex | None,
                     crc64nvme: str | None = None) -> bool:
    """List ``f`` for reuse instead of sending its blob when the index lists its content (same
    SHA-256 and size); returns whether it did. A blob this run already sends, or that a resumed
    attempt already sent, is used rather than reused."""
    if (
        reusable is None
        or piece.id in sender.outcome.pieces
        or sender.run.holds(piece.id, piece.size)
        or reusable.lookup(piece.sha256, piece.size) is None
    ):
        return False
    sender.outcome.add_reused(f, piece.sha256, crc64nvme)
    sender.notify("on_file_reused", path=f.member_name, size=f.size)
    return True


def send_again_in_full(
    uploader: Uploader,
    request: BackupRequest,
    refused: UploadResult,
    *,
    wait: bool,
    wait_timeout: float | None,
) -> UploadResult:
    """The filer could not copy a file this run skipped (its earlier copy was deleted, changed or
    moved to Glacier): send the run again, every file included, as a new run under the same
    timestamp. The refusal came from the verify pass, before the timestamp was claimed, so the
    user sees one complete run and no failure. ``bytes_sent`` counts both attempts."""
    log.info(
        "run %s of %s: the archive no longer holds an earlier copy of a skipped file (%s); "
        "sending the run again in full",
        refused.run_id, refused.project_key, refused.receipt.reason if refused.receipt else "",
    )
    again = dataclasses.replace(request, project_key=refused.project_key,
                                timestamp=refused.timestamp or False)
    result = uploader.backup(again, wait=wait, wait_timeout=wait_timeout, skip_unchanged=False)
    result.resent = True
    result.bytes_sent += refused.bytes_sent
    return result
