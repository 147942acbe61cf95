"""One object that stands the whole local pipeline up and takes it down again."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType

from .server import LocalS3Server
from .stack import LocalStack, LocalStackNames, provision
from .worker import LocalFilerWorker


class LocalSession:
    """The embedded S3 server, the provisioned resources and the filer worker, as a context manager.

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
    ) -> None:
        self.server = LocalS3Server(port=port, env=server_env)
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
                self.worker = LocalFilerWorker(self.stack, log_level=self.filer_log_level).start()
        except BaseException:
            self.server.stop()
            raise
        return self.stack

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
