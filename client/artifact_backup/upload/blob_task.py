"""Large files: each travels alone as a blob, hashed on the hash pool (docs/protocol.md, steps 2-4).

A blob hashed first is named by its content (``blobs/{sha256 of the file}``), so identical large
files of a run share one blob and a file the archive already holds may be reused. A large file whose
size neither the reuse index nor another large file of the run has can be neither reused nor
shared, so it is not hashed before it is sent: it goes at once under its name's slot
(:func:`blob_slot_id`) while a second reader hashes it, and the hash, which the filer verifies,
travels in the manifest. Hashing first would add a full read of the file to the upload's time.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Executor, Future

from artifact_contract import FileEntry, Piece, ReuseIndex, blob_piece_id, blob_slot_id

from ..collect import LocalFile
from ..pack import FileDigest, digest_file
from .reuse import reuse_if_indexed
from .sender import PieceSender
from .types import BlobJob


def start_hashes(
    sender: PieceSender, pool: Executor, blobs: Sequence[LocalFile], hash_first: Collection[int]
) -> list[BlobJob]:
    """Start hashing every large file: one whose size is in ``hash_first`` is hashed before it is
    sent, any other is sent under its slot while it is hashed."""
    jobs = []
    for f in blobs:
        parts = sender.checksums.for_size(f.size)
        hashed = pool.submit(digest_file, f, sender.config.hash_chunksize, parts)
        hashed.add_done_callback(_notify_hashed(sender, f))
        slot = None if f.size in hash_first else blob_slot_id(f.member_name)
        jobs.append(BlobJob(f, hashed, slot, parts))
    return jobs


def _notify_hashed(sender: PieceSender, f: LocalFile) -> Callable[[Future[FileDigest]], None]:
    def done(hashed: Future[FileDigest]) -> None:
        if hashed.exception() is None:
            sender.file_hashed(f)

    return done


def send_slot_blobs(sender: PieceSender, jobs: Sequence[BlobJob]) -> None:
    """Start sending every blob that goes while it is hashed, under its slot."""
    for job in jobs:
        f, slot = job.file, job.slot
        if slot is None or sender.run.holds(slot, f.size):
            continue  # hashed first, or sent by an earlier attempt
        sender.upload(f.location, slot, _slot_piece(slot, job), f.size, parts=job.parts)


def _slot_piece(slot: str, job: BlobJob) -> Callable[[], Piece]:
    return lambda: Piece(slot, "blob", job.file.size, job.hashed.result().sha256)


def file_blobs(sender: PieceSender, jobs: Sequence[BlobJob], reusable: ReuseIndex | None) -> None:
    """List every blob in the manifest once its hash is known, in the plan's order, and send the
    ones hashed first that are neither reused, nor shared with another file, nor already in staging."""
    for job in jobs:
        digest = job.hashed.result()
        if job.slot is not None:
            _file_slot_blob(sender, job.file, job.slot, digest)
        else:
            _send_hashed_blob(sender, job, digest, reusable)


def _file_slot_blob(sender: PieceSender, f: LocalFile, slot: str, digest: FileDigest) -> None:
    piece = Piece(slot, "blob", f.size, digest.sha256)
    sender.outcome.add_file(FileEntry(f.type, f.path, f.size, digest.sha256, piece.id, None,
                                      digest.crc64nvme))
    sender.outcome.pieces[piece.id] = piece
    sender.already_there(piece)


def _send_hashed_blob(
    sender: PieceSender, job: BlobJob, digest: FileDigest, reusable: ReuseIndex | None
) -> None:
    f, outcome = job.file, sender.outcome
    sha = digest.sha256
    piece = Piece(blob_piece_id(sha), "blob", f.size, sha)
    if reuse_if_indexed(sender, f, piece, reusable, digest.crc64nvme):
        return
    outcome.add_file(FileEntry(f.type, f.path, f.size, sha, piece.id, None, digest.crc64nvme))
    if piece.id in outcome.pieces:
        return  # an identical file of this run sends it
    outcome.pieces[piece.id] = piece
    if not sender.already_there(piece):
        sender.upload(f.location, piece.id, piece, f.size, parts=job.parts)
