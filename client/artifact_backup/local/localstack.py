"""LocalStack as the embedded S3 server: stricter than moto, closer to S3.

It checks a body against its declared checksum, honours conditional copies, computes composite
multipart checksums and keeps connections open, as S3 does. It runs in its own Python 3.13
environment (``make localstack`` builds it in ``.venv-localstack``), named by
``ARTIFACT_BACKUP_LOCALSTACK_PYTHON``, through :mod:`._localstack_main`, which binds it to
127.0.0.1, stops it with its parent and removes its data directory afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from ..exceptions import LocalStackError
from .server import LOCAL_CREDENTIALS, LOCAL_REGION, EmbeddedServer

#: Names LocalStack's interpreter; ``make localstack`` prints the value to use.
PYTHON_ENV = "ARTIFACT_BACKUP_LOCALSTACK_PYTHON"
INSTALL_HINT = (
    f"LocalStack runs in its own Python 3.13 environment: run `make localstack` in the project, "
    f"then set {PYTHON_ENV}=.venv-localstack/bin/python (the Makefile's targets set it themselves)"
)
_LAUNCHER = Path(__file__).with_name("_localstack_main.py")


def localstack_python() -> str:
    """The interpreter ``ARTIFACT_BACKUP_LOCALSTACK_PYTHON`` names, checked to exist."""
    value = os.environ.get(PYTHON_ENV, "").strip()
    if not value:
        raise LocalStackError(f"{PYTHON_ENV} is not set. {INSTALL_HINT}")
    if not (Path(value).is_file() and os.access(value, os.X_OK)):
        raise LocalStackError(f"{PYTHON_ENV}={value} is not an executable file. {INSTALL_HINT}")
    return value


def free_loopback_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now: LocalStack needs its port named before it starts."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class LocalStackServer(EmbeddedServer):
    """LocalStack's S3 and SQS on 127.0.0.1, offline, with a data directory of its own."""

    backend = "localstack"
    strict = True
    #: LocalStack shuts its services down on SIGTERM; past this it is killed.
    stop_timeout = 20.0

    def __init__(self, *args: Any, counters: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Count connections, requests and bytes; the totals are served at ``counters_url``.
        self.counting = counters
        self.counters_url: str | None = None
        self.data_dir: str | None = None

    def _command(self) -> list[str]:
        python = localstack_python()
        if self.port == 0:
            self.port = free_loopback_port(self.host)
        self.data_dir = tempfile.mkdtemp(prefix="artifact-backup-localstack-")
        # -P: the launcher's own folder holds this module, which would shadow LocalStack's package.
        command = [python, "-P", str(_LAUNCHER), "--host", self.host, "--data-dir", self.data_dir]
        return [*command, "--counters"] if self.counting else command

    def _environment(self) -> dict[str, str]:
        env = super()._environment()
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "PYTHONPATH"):
            env.pop(name, None)
        assert self.data_dir is not None
        listen = f"{self.host}:{self.port}"
        env.update({
            "OVERRIDE_IN_DOCKER": "0",  # a container's /.dockerenv must not make it act as one
            "SERVICES": "s3,sqs",
            "EAGER_SERVICE_LOADING": "1",  # serve the first request at once, not seconds later
            "GATEWAY_LISTEN": listen,
            "LOCALSTACK_HOST": listen,
            "SQS_ENDPOINT_STRATEGY": "path",  # queue URLs on our endpoint, no DNS name needed
            "FILESYSTEM_ROOT": self.data_dir,
            "DISABLE_EVENTS": "1",  # offline: no analytics
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "DNS_ADDRESS": "0",  # no DNS server listening on any interface
            "LS_LOG": env.get("LS_LOG", "warning"),
        })
        return env

    def _popen_options(self) -> dict[str, Any]:
        # Its own process group: a Ctrl-C in the terminal reaches us, and we stop it in order.
        return {"stdin": subprocess.PIPE, "start_new_session": True}

    def _ready(self, line: str) -> str | None:
        if line.startswith("Counters on "):
            self.counters_url = line.split()[-1]
        if line.strip() == "Ready.":
            return f"http://{self.host}:{self.port}"
        return None

    def stop(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                if hasattr(os, "killpg"):
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                process.kill()
                process.wait()
        if process is not None and process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        self._process = None
        if self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=LOCAL_REGION,
                            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    def reset(self) -> None:
        """There is no reset endpoint: delete queues, uploads, versions and buckets one by one."""
        from .wipe import wipe

        wipe(self.client("s3"), self.client("sqs"))

    def __enter__(self) -> LocalStackServer:
        self.start()
        return self
