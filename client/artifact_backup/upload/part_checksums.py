"""Handing botocore the part CRC32Cs the client took while hashing (:mod:`artifact_backup.part_crc`).

s3transfer asks for one set of arguments per upload, not per part, so the values reach each
request through botocore's ``before-parameter-build`` event: a piece's key and part number name
the value. botocore computes a checksum only when the request carries none (its
``resolve_request_checksum_algorithm``), so a value given here replaces its own read of the part.

Only over plain HTTP. Over HTTPS botocore already takes the checksum in the read that sends the
part (an aws-chunked trailer), and a checksum the caller puts in a header there makes its S3
signer SHA-256-sign every body (``S3SigV4Auth._should_sha256_sign_payload`` skips signing only
for a checksum it placed itself): a full extra pass over the bytes instead of one saved.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

from ..part_crc import PartCrcs
from ..transfer import UploadConfig

#: The request member botocore sends as ``x-amz-checksum-crc32c``.
CHECKSUM_MEMBER = "ChecksumCRC32C"
_EVENTS = ("before-parameter-build.s3.UploadPart", "before-parameter-build.s3.PutObject")


def speaks_plain_http(endpoint_url: str | None) -> bool:
    """Whether requests to ``endpoint_url`` go over plain HTTP (None: AWS's own, HTTPS)."""
    return bool(endpoint_url) and urlparse(endpoint_url).scheme == "http"


def part_size(size: int, config: UploadConfig) -> int:
    """The part size s3transfer cuts a piece of ``size`` bytes into: the configured one, grown as
    it grows it to keep a large file within S3's 10,000 parts."""
    from s3transfer.utils import ChunksizeAdjuster

    return ChunksizeAdjuster().adjust_chunksize(config.multipart_chunksize, size)


class PartChecksums:
    """The part CRC32Cs of one run's pieces, by staging key, and the botocore handler that sends them.

    :param enabled: whether the run goes to a plain-HTTP endpoint; otherwise nothing is taken
        (:meth:`for_size` and :meth:`for_stream` give None) and nothing is handed to botocore.
    """

    def __init__(self, config: UploadConfig, *, enabled: bool = True) -> None:
        self._config = config
        self.enabled = enabled
        self._bound: dict[tuple[str, str], tuple[PartCrcs, bool]] = {}

    def for_size(self, size: int) -> PartCrcs | None:
        """Parts for a piece whose size is known before it is read (a large file)."""
        return PartCrcs(part_size(size, self._config)) if self.enabled else None

    def for_stream(self) -> PartCrcs | None:
        """Parts for a piece whose size is known only once it is written (a pack, far below the
        size at which s3transfer grows its parts)."""
        return PartCrcs(self._config.multipart_chunksize) if self.enabled else None

    def bind(self, bucket: str, key: str, crcs: PartCrcs, size: int) -> None:
        """``crcs`` are the checksums of the ``size`` bytes sent to ``key``. Where s3transfer cuts
        the piece otherwise than ``crcs`` did, nothing is bound, and botocore takes them itself."""
        multipart = size >= self._config.multipart_threshold
        fits = crcs.part_size == part_size(size, self._config) if multipart else size <= crcs.part_size
        if fits:
            self._bound[(bucket, key)] = (crcs, multipart)

    def provide(self, params: dict[str, Any], model: Any = None, **_: Any) -> None:
        """botocore's ``before-parameter-build`` handler for UploadPart and PutObject."""
        bound = self._bound.get((params.get("Bucket", ""), params.get("Key", "")))
        if bound is None or CHECKSUM_MEMBER in params:
            return
        crcs, multipart = bound
        is_part = getattr(model, "name", None) == "UploadPart"
        if is_part != multipart:
            return
        value = crcs.part(params.get("PartNumber", 0) if is_part else 1)
        if value is not None:
            params[CHECKSUM_MEMBER] = value

    @contextmanager
    def given_to(self, client: Any) -> Iterator[None]:
        """While inside, ``client``'s uploads and parts carry the bound checksums, if it speaks
        plain HTTP (see the module's note)."""
        if not (self.enabled and speaks_plain_http(client.meta.endpoint_url)):
            yield
            return
        events = client.meta.events
        # botocore keys a unique id alone, whatever the event: one id per event.
        unique = {event: f"artifact-backup-part-crc-{id(self)}-{event}" for event in _EVENTS}
        for event in _EVENTS:
            events.register(event, self.provide, unique_id=unique[event])
        try:
            yield
        finally:
            for event in _EVENTS:
                events.unregister(event, self.provide, unique_id=unique[event])
