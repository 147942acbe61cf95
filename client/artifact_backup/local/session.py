"""One object that stands the whole local pipeline up and takes it down again."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

from .backends import MOTO, embedded_server
from .stack import LocalStack, LocalStackNames, provision
from .worker import LocalFilerWorker


class LocalSession:
    """The embedded S3 server, the provisioned resources and the filer worker, as a context manager.

    ``backend`` names the server (:data:`~artifact_backup.local.backends.BACKENDS`); any exception
    while starting, and leaving the block however it is left, stops the server and the worker.

    ``artifact-backup local`` and ``artifact-backup demo`` run on it; so can any script or test that
    wants the real pipeline on loopback.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        names: LocalStackNames | None = None,
        server_env: Mapping[str, str] | None = None,
        run_worker: bool = True,
        filer_log_level: str = "INFO",
        filer_timeout_seconds: float | None = None,
        backend: str = MOTO,
    ) -> None:
        self.server = embedded_server(backend, port=port, env=server_env)
        #: Each filer invocation's time (Lambda's 15 minutes by default). A few seconds show a run
        #: too large for one invocation continue in the next: the filer keeps a quarter of it back.
        self.filer_timeout_seconds = filer_timeout_seconds
        self.names = names or LocalStackNames()
        self.run_worker = run_worker
        self.filer_log_level = filer_log_level
        self.stack: LocalStack | None = None
        self.worker: LocalFilerWorker | None = None

    def start(self) -> LocalStack:
        endpoint = self.server.start()
        try:
            self.stack = provision(endpoint, self.names)
            if self.run_worker:
                self.worker = LocalFilerWorker(self.stack, log_level=self.filer_log_level,
                                               **self._worker_timing()).start()
        except BaseException:
            self.server.stop()
            raise
        return self.stack

    def _worker_timing(self) -> dict[str, Any]:
        if self.filer_timeout_seconds is None:
            return {}
        margin_ms = max(1, int(self.filer_timeout_seconds * 1000) // 4)
        return {"timeout_seconds": self.filer_timeout_seconds,
                "filer_tuning": {"stop_margin_ms": margin_ms}}

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        self.server.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
