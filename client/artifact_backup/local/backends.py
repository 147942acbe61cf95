"""Which embedded S3 server the local stack runs on.

moto (the default) installs with ``artifact-backup[local]`` and starts in a second; it is lax where
this project's promises live: it stores a body whose declared checksum does not match it, ignores
conditional copies, has no composite multipart checksums and closes every connection after one
answer. LocalStack checks all of these as S3 does, at the cost of its own Python 3.13 environment
(``make localstack``) and a slower start.
"""

from __future__ import annotations

import os
from typing import Any

from ..exceptions import LocalStackError
from .server import EmbeddedServer, LocalS3Server

MOTO = "moto"
LOCALSTACK = "localstack"
BACKENDS = (MOTO, LOCALSTACK)
#: Selects the backend of every server-backed test (moto when unset).
BACKEND_ENV = "ARTIFACT_BACKUP_S3_BACKEND"


def embedded_server(backend: str = MOTO, **options: Any) -> EmbeddedServer:
    """A not yet started server of ``backend``; ``options`` as :class:`EmbeddedServer` takes them."""
    if backend == MOTO:
        return LocalS3Server(**options)
    if backend == LOCALSTACK:
        from .localstack import LocalStackServer

        return LocalStackServer(**options)
    raise LocalStackError(f"unknown S3 backend {backend!r}: choose one of {', '.join(BACKENDS)}")


def backend_from_environment() -> str:
    """The backend ``ARTIFACT_BACKUP_S3_BACKEND`` names, moto when it is unset or empty."""
    backend = os.environ.get(BACKEND_ENV, "").strip().lower() or MOTO
    if backend not in BACKENDS:
        raise LocalStackError(
            f"{BACKEND_ENV}={backend!r} names no S3 backend: set it to one of {', '.join(BACKENDS)}"
        )
    return backend
