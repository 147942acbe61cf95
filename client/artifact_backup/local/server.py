"""The embedded S3-compatible server: moto in server mode, in its own process, on loopback.

A separate process (rather than moto's in-process mocks) means the client and filer talk real HTTP
to it exactly as they would to AWS, and the server's work does not share our interpreter's GIL.
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

from ..exceptions import LocalStackError

_RUNNING_RE = re.compile(r"Running on (http://[0-9.]+:\d+)")
#: The region and dummy credentials the embedded server accepts; anything non-empty works.
LOCAL_REGION = "us-east-1"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class LocalS3Server:
    """Start ``moto_server`` on 127.0.0.1 and learn its endpoint from its own start-up line.

    ``port=0`` lets the operating system choose a free port, so parallel test runs never collide.
    ``env`` adds variables to the server's environment, e.g. ``INITIAL_NO_AUTH_ACTION_COUNT`` to
    switch IAM enforcement on.
    """

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

    def start(self) -> str:
        """Start the server and return its endpoint URL once it is accepting connections."""
        env = {**os.environ, **LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION": LOCAL_REGION, **self.env}
        env["PYTHONUNBUFFERED"] = "1"
        self._process = subprocess.Popen(
            self._command(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        found = threading.Event()

        def pump() -> None:
            assert self._process is not None
            assert self._process.stdout is not None
            for line in self._process.stdout:
                if len(self._log) < 200:
                    self._log.append(line.rstrip())
                match = _RUNNING_RE.search(line)
                if match and not found.is_set():
                    self.endpoint_url = match.group(1)
                    found.set()
            found.set()

        threading.Thread(target=pump, name="moto-server-output", daemon=True).start()
        if not found.wait(self.startup_timeout) or self.endpoint_url is None:
            self.stop()
            raise LocalStackError(
                "the embedded S3 server did not start: " + " | ".join(self._log[-5:])
            )
        return self.endpoint_url

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

    def __enter__(self) -> LocalS3Server:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
