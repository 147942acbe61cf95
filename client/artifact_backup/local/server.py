"""The embedded S3-compatible servers, each in its own process on loopback.

A separate process (rather than moto's in-process mocks) means the client and filer talk real HTTP
to it exactly as they would to AWS, and the server's work does not share our interpreter's GIL.
:class:`EmbeddedServer` holds what every backend shares (start, wait for its ready line, stop,
wipe); :class:`LocalS3Server` is moto in server mode, the default, and
:class:`~artifact_backup.local.localstack.LocalStackServer` the stricter LocalStack.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any, ClassVar

from ..exceptions import LocalStackError

_RUNNING_RE = re.compile(r"Running on (http://[0-9.]+:\d+)")
#: The region and dummy credentials the embedded server accepts; anything non-empty works.
LOCAL_REGION = "us-east-1"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class EmbeddedServer:
    """A server process on 127.0.0.1 whose endpoint is known once its output says it is ready.

    Subclasses name the command (:meth:`_command`), recognise readiness (:meth:`_ready`) and wipe
    their state (:meth:`reset`). ``env`` adds variables to the server's environment.
    """

    #: The name ``--backend`` and ``ARTIFACT_BACKUP_S3_BACKEND`` know this server by.
    backend: ClassVar[str] = ""
    #: Which S3 checks this server makes (see :mod:`artifact_backup.local.backends`).
    strict: ClassVar[bool] = False

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self.host = host
        self.port = port
        self.env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.endpoint_url: str | None = None
        self._process: subprocess.Popen[str] | None = None
        self._log: list[str] = []

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self, line: str) -> str | None:
        """The endpoint URL if this output line says the server is serving, else ``None``."""
        raise NotImplementedError

    def _environment(self) -> dict[str, str]:
        env = {**os.environ, **LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION": LOCAL_REGION, **self.env}
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _popen_options(self) -> dict[str, Any]:
        return {}

    def start(self) -> str:
        """Start the server and return its endpoint URL once it is accepting connections."""
        try:
            self._process = subprocess.Popen(
                self._command(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=self._environment(),
                **self._popen_options(),
            )
        except BaseException:
            self.stop()  # whatever the command prepared (a data directory) goes too
            raise
        found = threading.Event()

        def pump() -> None:
            assert self._process is not None
            assert self._process.stdout is not None
            for line in self._process.stdout:
                if len(self._log) < 200:
                    self._log.append(line.rstrip())
                endpoint = None if found.is_set() else self._ready(line)
                if endpoint:
                    self.endpoint_url = endpoint
                    found.set()
            found.set()

        threading.Thread(target=pump, name=f"{self.backend}-server-output", daemon=True).start()
        if not found.wait(self.startup_timeout) or self.endpoint_url is None:
            self.stop()
            raise LocalStackError(
                f"the embedded S3 server ({self.backend}) did not start: " + " | ".join(self._log[-5:])
            )
        return self.endpoint_url

    @property
    def pid(self) -> int:
        assert self._process is not None, "server not started"
        return self._process.pid

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def reset(self) -> None:
        """Wipe every bucket, object and queue, as a fresh server would have none."""
        raise NotImplementedError

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class LocalS3Server(EmbeddedServer):
    """``moto_server`` on 127.0.0.1, its endpoint learnt from its own start-up line.

    ``port=0`` lets the operating system choose a free port, so parallel test runs never collide.
    ``env`` can e.g. set ``INITIAL_NO_AUTH_ACTION_COUNT`` to switch IAM enforcement on.
    """

    backend = "moto"

    def _command(self) -> list[str]:
        exe = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or shutil.which(
            "moto_server"
        )
        if exe is None:
            try:
                import moto.server  # noqa: F401
            except ImportError:
                raise LocalStackError(
                    "the embedded S3 server is not installed: pip install 'artifact-backup[local]'"
                ) from None
            return [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)]
        return [exe, "-H", self.host, "-p", str(self.port)]

    def _ready(self, line: str) -> str | None:
        match = _RUNNING_RE.search(line)
        return match.group(1) if match else None

    def reset(self) -> None:
        """moto's own reset API: everything, in one request."""
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 - the http URL of our own server
            f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - our own http URL
            response.read()

    def __enter__(self) -> LocalS3Server:
        self.start()
        return self


#: moto by its name, beside :class:`~artifact_backup.local.localstack.LocalStackServer`.
MotoServer = LocalS3Server
