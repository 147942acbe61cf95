"""What every step of a filing works with: the S3 client, the buckets, the tuning, the log, the step
hook, and the run's place, decoded from its manifest key.

One context is made per manifest key once it is decoded (``Filer.file``), so a filer whose
``config`` is replaced between filings files the next run with the new one. Worker threads share it;
nothing in it changes but ``manifest_etag``, set once the manifest is read, and what an untimestamped
run learns of the archive's versioning before it writes (``versions``). The manifest is not in
it: it is passed to each step that reads it, since the steps before it (decoding, the receipt) run
without one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from boto3.s3.transfer import TransferConfig

from artifact_contract import ManifestLocation

from .config import FilerConfig, StepHook


@dataclass
class FilingContext:
    """The filing of the run whose manifest is at ``key`` in ``staging_bucket``.

    ``client`` is a boto3 S3 client shared by every worker thread (boto3 clients are thread-safe);
    ``transfer`` sizes s3transfer's managed copies (a quarantined piece beyond CopyObject's limit);
    ``putter``, when set, sends the put of each packed file instead of ``client``
    (``artifact_filer.crt.CrtPutter``): the one request a run of many small files is made of.
    """

    client: Any
    staging_bucket: str
    archive_bucket: str
    config: FilerConfig
    log: logging.Logger | Any
    transfer: TransferConfig
    #: The manifest's (URL-decoded) staging key, and the run's place it names (step 1).
    key: str
    location: ManifestLocation
    on_step: StepHook | None = None
    putter: Any | None = None
    #: The ETag of the manifest read (step 3): the filing's progress is kept for that upload of it.
    manifest_etag: str = ""
    #: Whether the archive keeps the versions an untimestamped run replaces (asked before such a run
    #: writes; ``versions.prepare``). Until then False: writes are conditional.
    versioned_archive: bool = False
    #: The versions an untimestamped run's writes answered (``versions.WrittenVersions``), for its record.
    versions: Any | None = None

    def step(self, name: str) -> None:
        """Tell the step hook a step is done (the fault suite kills the filer there)."""
        if self.on_step is not None:
            self.on_step(name)

    def identity(self) -> dict[str, str]:
        """The run's identity for a log line."""
        return {"project_key": self.location.project_key, "run_id": self.location.run_id}

    def workers(self, items: int, cap: int | None = None) -> int:
        """Threads for ``items`` parallel requests: no more than there is work, or than allowed."""
        return max(1, min(items, cap or self.config.concurrency, self.config.concurrency))
