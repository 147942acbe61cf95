"""Tuning of archive reads, shaped like s3transfer's ``TransferConfig``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..transfer import MB, UploadConfig


@dataclass(frozen=True)
class ReadConfig:
    """How the archive is read.

    :param max_concurrency: parallel requests (record GETs, prefix LISTs, download parts).
    :param multipart_threshold: files at least this large are downloaded in ranged parts...
    :param multipart_chunksize: ...of this size.
    :param hash_chunksize: read size while verifying a downloaded file.
    :param diff_max_bytes: config files larger than this are compared by checksum only, not diffed.
    :param restore_days: how long a restored copy stays readable, unless a command says otherwise.
    """

    max_concurrency: int = 10
    multipart_threshold: int = 8 * MB
    multipart_chunksize: int = 8 * MB
    hash_chunksize: int = 1 * MB
    diff_max_bytes: int = 2 * MB
    restore_days: int = 7

    def __post_init__(self) -> None:
        for name in ("max_concurrency", "multipart_threshold", "multipart_chunksize", "hash_chunksize"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.restore_days < 1:
            raise ValueError("restore_days must be at least 1")

    @classmethod
    def from_upload_config(cls, config: UploadConfig) -> ReadConfig:
        """Reuse ``aws.transfer``'s concurrency and part sizes: one set of knobs per machine."""
        return cls(
            max_concurrency=config.max_concurrency,
            multipart_threshold=config.multipart_threshold,
            multipart_chunksize=config.multipart_chunksize,
        )

    def transfer_config(self) -> Any:
        from s3transfer.manager import TransferConfig

        return TransferConfig(
            multipart_threshold=self.multipart_threshold,
            multipart_chunksize=self.multipart_chunksize,
            max_request_concurrency=self.max_concurrency,
        )
