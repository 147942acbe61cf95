"""Sending a run to staging and waiting for the filer's answer (docs/protocol.md, client side).

The package is laid out as s3transfer is: :mod:`.manager` (the :class:`Uploader`, which only
orchestrates), :mod:`.types`, one module per kind of transfer (:mod:`.pack_task`, :mod:`.blob_task`,
:mod:`.resend_task`) on :mod:`.sender`, :mod:`.subscribers`, and :mod:`.resume`, :mod:`.reuse`,
:mod:`.commit` and :mod:`.receipt` for the steps around them.
"""

from .commit import CLIENT_NAME
from .manager import Uploader, backup_run
from .types import BackupRequest, UploadResult

__all__ = ["CLIENT_NAME", "BackupRequest", "UploadResult", "Uploader", "backup_run"]
