"""What every task shares: s3transfer's manager, reading files strictly, and one run's sending."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from artifact_contract import Piece

from ..collect import LocalFile
from ..part_crc import PartCrcs
from ..paths import discard
from ..transfer import Notifier, UploadConfig
from .part_checksums import PartChecksums
from .reader import strict_osutil
from .subscribers import PieceProgress
from .types import SendOutcome, StagingRun

#: S3 checks every part against this checksum on arrival, taken where the piece is hashed
#: (:mod:`artifact_backup.part_crc`) or else by botocore. CRC32C: S3 combines a multipart object's
#: part CRCs at completion (COMPOSITE), and awscrt, which botocore uses for it, computes it in
#: hardware (SSE4.2, ARMv8 CRC) at 5 GB/s here, against 2 GB/s for CRC32. A CRC64NVME multipart
#: object is FULL_OBJECT instead, which a local server can only check by reading the whole object
#: once more at completion (moto copies it twice in memory). Measured on the 2.7 GB GIS folder
#: (bench/): moto spent 39-41 s of CPU under CRC64NVME parts and 23-26 s under CRC32; CRC32C took
#: another second off the client's CPU and 1.5 s off LocalStack's. The staging copy is transient:
#: the filer verifies each file's SHA-256 and CRC64NVME from the bytes, and the archive's objects
#: hold CRC64NVME.
SEND_ARGS = {"ChecksumAlgorithm": "CRC32C"}


def transfer_manager(client: Any, config: UploadConfig) -> Any:
    """s3transfer's manager with our part size and concurrency, reading files strictly."""
    from s3transfer.manager import TransferConfig, TransferManager

    transfer_config = TransferConfig(
        multipart_threshold=config.multipart_threshold,
        multipart_chunksize=config.multipart_chunksize,
        max_request_concurrency=config.max_concurrency,
    )
    return TransferManager(client, transfer_config, osutil=strict_osutil())


class PieceSender:
    """Sends one run's pieces through one s3transfer manager and keeps the outcome's tally.

    The manager is given with :meth:`use` once it exists: the hashes start before it (and the S3
    client it needs) is made. ``part_checksums``: the endpoint speaks plain HTTP, so the pieces'
    part CRC32Cs are taken as they are hashed (:mod:`.part_checksums`).
    """

    def __init__(
        self, run: StagingRun, config: UploadConfig, notify: Notifier, *, part_checksums: bool = False
    ) -> None:
        self.run = run
        self.config = config
        self.notify = notify
        self.outcome = SendOutcome()
        self.checksums = PartChecksums(config, enabled=part_checksums)
        self.temp_files: list[Path] = []
        self._manager: Any = None
        self._transfers: list[Any] = []

    def use(self, manager: Any) -> None:
        self._manager = manager

    def file_hashed(self, f: LocalFile) -> None:
        self.notify("on_file_hashed", path=f.member_name, size=f.size)

    def already_there(self, piece: Piece, content: int | None = None) -> bool:
        """Whether an earlier attempt already sent ``piece`` (carrying ``content`` bytes of files):
        then it is counted as skipped."""
        if self.run.holds(piece.id, piece.size):
            self.outcome.skipped += 1
            self.notify("on_piece_done", piece=piece, skipped=True,
                        content=piece.size if content is None else content)
            return True
        return False

    def upload(
        self,
        path: str,
        piece_id: str,
        piece: Piece | Callable[[], Piece],
        size: int,
        cleanup: Path | None = None,
        content: int | None = None,
        parts: PartCrcs | None = None,
    ) -> Any:
        """Start sending ``size`` bytes of ``path`` as the piece ``piece_id`` (carrying ``content``
        bytes of files, default ``size``; ``parts``: its part CRC32Cs, as its hash reads them);
        returns its future."""
        if parts is not None:
            self.checksums.bind(self.run.bucket, self.run.key(piece_id), parts, size)
        progress = PieceProgress(piece, size, cleanup, outcome=self.outcome, notify=self.notify,
                                 content=content)
        future = self._manager.upload(
            path, self.run.bucket, self.run.key(piece_id), extra_args=dict(SEND_ARGS), subscribers=[progress]
        )
        self._transfers.append(future)
        return future

    def wait(self) -> None:
        """Until every upload started is done; the first failure raises."""
        for future in self._transfers:
            future.result()

    def remove_temp_files(self) -> None:
        """Runs in a ``finally``: a pack file a virus scanner still holds is left and logged, so the
        run's own result or error is the one reported."""
        for path in self.temp_files:
            discard(path, "pack file")
