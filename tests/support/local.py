"""The embedded S3 server between tests, and the one filer the Lambda handler holds.

Every server-backed test starts its server through :func:`server_under_test`: moto by default, LocalStack
when ``ARTIFACT_BACKUP_S3_BACKEND=localstack``. Tests that only a strict server makes honest are
marked ``strict_s3`` and skipped on moto, with the reason; tests of moto's own APIs (its IAM
enforcement, the benchmark's counting middleware) are marked ``moto_api`` and start moto
themselves whatever the setting.

The handler caches one filer per process, as one Lambda execution environment does; a fixture that
installs its own (or clears it) must put back what was there, or a later test's stack files its
runs with the wrong filer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from artifact_backup.local import EmbeddedServer, LocalStack, provision
from artifact_backup.local.backends import backend_from_environment, embedded_server


def backend_under_test() -> str:
    """The backend this test run uses (``ARTIFACT_BACKUP_S3_BACKEND``, moto when unset)."""
    return backend_from_environment()


@contextmanager
def server_under_test(**options: Any) -> Iterator[EmbeddedServer]:
    """A started server of this run's backend on 127.0.0.1, stopped on the way out."""
    with embedded_server(backend_under_test(), **options) as server:
        yield server


def reset_server(server: EmbeddedServer) -> None:
    """Wipe the server's state: moto's reset API, or deletions through the API where there is none."""
    server.reset()


def reset_stack(server: EmbeddedServer) -> LocalStack:
    """Wipe the embedded server and provision it again, as the CDK stack would be."""
    reset_server(server)
    assert server.endpoint_url is not None
    return provision(server.endpoint_url)


@contextmanager
def swapped_filer(filer: Any = None) -> Iterator[Any]:
    """Install ``filer`` in the handler (by default none: the next event builds one from the
    environment), and put back the one it replaced on the way out; yields that one."""
    from artifact_filer import handler

    previous = handler.reset_filer(filer)
    try:
        yield previous
    finally:
        handler.reset_filer(previous)


def installed_filer() -> Any:
    """The filer the handler holds now (``None`` if it would build one), leaving it in place."""
    from artifact_filer import handler

    current = handler.reset_filer()
    handler.reset_filer(current)
    return current
