"""The benchmark's S3 server: moto in server mode, with a request counter in front of it (or, with
``--backend localstack``, LocalStack counting the same totals in its own gateway; see
:class:`CountingLocalStackServer`).

Requests and bytes are counted at the server, the only place that sees every tool's traffic the
same way, whatever its HTTP client. A WSGI middleware inside the moto process does the counting:
a few dictionary updates per request, no extra network hop and no extra copy of the bodies, so it
costs far less than the server's own work and does not compete with the tools for the two cores
the way a reverse proxy relaying every byte would.

Run as ``python -m bench.server -H 127.0.0.1 -p 0``; it prints ``Running on http://host:port``
like ``moto_server``, so :class:`artifact_backup.local.LocalS3Server` can start it unchanged.
Per-request access logging is switched off: writing a log line per request would charge the
server (and every tool equally) for work the benchmark does not care about.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from artifact_backup.local import LocalS3Server
from artifact_backup.local.localstack import LocalStackServer

#: The path the counters are read from; no bucket name can start with an underscore.
COUNTERS_PATH = "/__bench/counters"

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class Counters:
    """Totals since the server started; the harness takes differences around each run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.connections = 0
        self.body_bytes = 0
        self.header_bytes = 0
        self.by_service: dict[str, int] = {}
        self.by_method: dict[str, int] = {}

    def add(self, service: str, method: str, headers: int, body: int) -> None:
        with self._lock:
            self.requests += 1
            self.header_bytes += headers
            self.body_bytes += body
            self.by_service[service] = self.by_service.get(service, 0) + 1
            self.by_method[method] = self.by_method.get(method, 0) + 1

    def add_connection(self) -> None:
        with self._lock:
            self.connections += 1

    def add_body(self, n: int) -> None:
        with self._lock:
            self.body_bytes += n

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "connections": self.connections,
                "body_bytes": self.body_bytes,
                "header_bytes": self.header_bytes,
                "by_service": dict(self.by_service),
                "by_method": dict(self.by_method),
            }


class _CountingInput:
    """Counts a chunked body as the application reads it (it has no Content-Length to trust)."""

    def __init__(self, stream: Any, counters: Counters) -> None:
        self._stream = stream
        self._counters = counters

    def read(self, *args: Any) -> bytes:
        data = self._stream.read(*args)
        self._counters.add_body(len(data))
        return data

    def readline(self, *args: Any) -> bytes:
        data = self._stream.readline(*args)
        self._counters.add_body(len(data))
        return data

    def __iter__(self) -> Any:
        for line in self._stream:
            self._counters.add_body(len(line))
            yield line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _service(environ: Environ) -> str:
    """The signing scope names the service: ``Credential=AKID/date/region/s3/aws4_request``."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    parts = auth.split("/")
    if len(parts) >= 4 and parts[-1].startswith("aws4_request"):
        return parts[-2]
    return "s3" if "X-Amz-Credential" not in environ.get("QUERY_STRING", "") else "presigned"


def _header_bytes(environ: Environ) -> int:
    """The request line and headers as they were on the wire, rebuilt from the environ."""
    uri = environ.get("REQUEST_URI") or environ.get("RAW_URI") or environ.get("PATH_INFO", "")
    size = len(environ.get("REQUEST_METHOD", "")) + len(uri) + len(" HTTP/1.1\r\n") + 1
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            size += len(key) - 5 + len(str(value)) + 4
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            size += len(key) + len(str(value)) + 4
    return size + 2


class CountingMiddleware:
    """Count every request, its header bytes and its body bytes, then hand it to moto."""

    def __init__(self, app: WSGIApp, counters: Counters) -> None:
        self.app = app
        self.counters = counters

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == COUNTERS_PATH:
            body = json.dumps(self.counters.snapshot()).encode()
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        if environ.get("PATH_INFO", "").startswith("/moto-api/"):
            return self.app(environ, start_response)  # the harness's reset between runs
        length = environ.get("CONTENT_LENGTH") or ""
        body_bytes = int(length) if length.isdigit() else 0
        if not length and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            environ["wsgi.input"] = _CountingInput(environ["wsgi.input"], self.counters)
        self.counters.add(
            _service(environ), environ.get("REQUEST_METHOD", "?"), _header_bytes(environ), body_bytes
        )
        return self.app(environ, start_response)


def serve(host: str, port: int) -> None:
    """Serve moto behind the counter until terminated, as ``moto_server`` does."""
    import signal

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    counters = Counters()

    class QuietHandler(WSGIRequestHandler):
        def setup(self) -> None:
            # Once per TCP connection: tells how well a tool reuses its connections.
            counters.add_connection()
            super().setup()

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            return

    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # as moto_server sets it
    server = make_server(
        host, port, CountingMiddleware(app, counters), threaded=True, request_handler=QuietHandler
    )
    os.environ["MOTO_PORT"] = str(server.port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f" * Running on http://{host}:{server.port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


class CountingS3Server(LocalS3Server):
    """:class:`LocalS3Server` started on :func:`serve`, with a reader for its counters."""

    def _command(self) -> list[str]:
        return [sys.executable, "-m", "bench.server", "-H", self.host, "-p", str(self.port)]

    def counters(self) -> dict[str, Any]:
        """Read the totals; this request itself is not counted."""
        with urllib.request.urlopen(f"{self.endpoint_url}{COUNTERS_PATH}", timeout=30) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        """Drop every bucket, object and queue, so the next measurement starts on an empty server.

        Reset is moto's own API (not counted as S3 traffic by any tool since it runs between
        measurements); it also frees the memory the previous tool's objects held.
        """
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()


class CountingLocalStackServer(LocalStackServer):
    """LocalStack counting connections, requests and bytes as :class:`CountingS3Server` does: its
    launcher counts at the gateway, in the server's own process, and serves the totals on a second
    loopback port. Between measurements it is emptied through the API (it has no reset endpoint)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(counters=True, **options)

    def counters(self) -> dict[str, Any]:
        assert self.counters_url is not None, "server not started"
        with urllib.request.urlopen(self.counters_url, timeout=30) as response:
            return json.loads(response.read())


#: Either server: both count the same totals and empty themselves with ``reset()``.
CountingServer = CountingS3Server | CountingLocalStackServer
#: The benchmark's server for each ``--backend``.
SERVERS: dict[str, type[CountingServer]] = {
    "moto": CountingS3Server, "localstack": CountingLocalStackServer,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=0)
    args = parser.parse_args(argv)
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
