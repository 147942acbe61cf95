"""Sending a changed file again: a blob sent while it was hashed, whose file moved meanwhile."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from ..aws import s3_failures
from ..collect import LocalFile
from ..exceptions import ArtifactBackupError, FileChangedError
from ..pack import hash_file
from ..transfer import UploadConfig
from .sender import SEND_ARGS, transfer_manager
from .subscribers import ListedSize
from .types import BlobJob, StagingRun

log = logging.getLogger("artifact_backup")


def settle_moved_blobs(client: Any, config: UploadConfig, run: StagingRun, jobs: Sequence[BlobJob]) -> None:
    """Once every piece is sent: a blob sent while hashed whose file moved is sent again, and no
    blob may have changed from the bytes hashed (:func:`check_unchanged`)."""
    for job in jobs:
        sha = job.hashed.result().sha256
        if job.slot is not None and moved(job.file):
            send_again_hashed(client, config, run.bucket, run.key(job.slot), job.file, sha)
        check_unchanged(job.file, sha, config.hash_chunksize)


def send_again_hashed(
    client: Any, config: UploadConfig, bucket: str, key: str, f: LocalFile, sha256: str
) -> None:
    """Send a blob again after its file moved while it was sent and hashed at once.

    Two readers that overlap a change may each have read a different version of the file, and
    the filer would refuse the run as corrupt. Appending to a live log leaves the hashed bytes
    as they were; so, if the file still holds the bytes hashed, they are sent again, now after
    the hash, and :func:`check_unchanged` judges any later change as it does for every blob.
    """
    if hash_file(f, config.hash_chunksize) != sha256:
        raise changed_while_sent(f)
    log.info("%s changed while it was sent; sending it again", f.source)
    with s3_failures(bucket, "sending a changed file again"), transfer_manager(client, config) as manager:
        # The size listed, not the file's size now: a live log sends what was hashed.
        listed = [ListedSize(f.size)]
        manager.upload(f.location, bucket, key, extra_args=dict(SEND_ARGS), subscribers=listed).result()


def moved(f: LocalFile) -> bool:
    """Whether the file's size or modification time is no longer what was listed."""
    try:
        st = os.stat(f.location)
    except OSError:
        return True
    return st.st_size != f.size or st.st_mtime_ns != f.mtime_ns


def check_unchanged(f: LocalFile, sha256: str, chunksize: int) -> None:
    """A blob is sent by s3transfer from its path: the bytes sent must be the ones hashed, or the
    filer refuses the whole run as corrupt after it was committed.

    s3transfer reads the size it was given, so a file that only grew (a live log) sent the bytes that
    were hashed, as a packed file does. Any other change (rewritten in place, shrunk, replaced) is
    reported here, before the manifest commits the run. The file is read again only when its size or
    modification time moved.
    """
    if not moved(f):
        return
    try:
        if hash_file(f, chunksize) == sha256:  # its first f.size bytes; shorter or gone raises
            return
    except ArtifactBackupError:
        pass
    raise changed_while_sent(f)


def changed_while_sent(f: LocalFile) -> FileChangedError:
    return FileChangedError(
        f"{f.source} changed while it was being uploaded",
        hint="re-run the upload once the program writing it has finished",
    )
