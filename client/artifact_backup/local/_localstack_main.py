"""Run LocalStack's runtime for :class:`~artifact_backup.local.localstack.LocalStackServer`.

Run by path with the interpreter of LocalStack's own environment (Python 3.13), so it imports only
the standard library and LocalStack. It adds three things to ``python -m localstack.runtime.main``:

- the gateway listens on the host it is given (127.0.0.1): LocalStack's default (twisted) server
  binds every interface whatever ``GATEWAY_LISTEN`` names;
- it stops when its parent does: the parent holds our standard input open, and end-of-file there
  (a parent that exited, was killed or crashed) is the same SIGTERM ``stop()`` sends;
- S3's object store lives in its own data directory (not a ``/tmp`` folder shared by all), and
  that directory is removed once the runtime has shut down, so nothing is left behind either.

With ``--counters`` it also counts connections, requests and request bytes and serves the totals
as JSON on a second loopback port (printed as ``Counters on http://...``), for the benchmark and
for tests that check connections are reused.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Counters:
    """Totals since start; readers take differences."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.totals: dict[str, Any] = {"requests": 0, "connections": 0, "body_bytes": 0,
                                       "header_bytes": 0, "by_service": {}, "by_method": {}}

    def connection(self) -> None:
        with self._lock:
            self.totals["connections"] += 1

    def request(self, service: str, method: str, headers: int, body: int) -> None:
        with self._lock:
            t = self.totals
            t["requests"] += 1
            t["header_bytes"] += headers
            t["body_bytes"] += body
            t["by_service"][service] = t["by_service"].get(service, 0) + 1
            t["by_method"][method] = t["by_method"].get(method, 0) + 1

    def snapshot(self) -> bytes:
        with self._lock:
            return json.dumps(self.totals).encode()


def _bind_loopback(host: str, counters: Counters | None) -> None:
    """Make every TCP endpoint LocalStack opens listen on ``host`` (and count its connections)."""
    from twisted.internet import endpoints
    from twisted.protocols.policies import WrappingFactory

    original = endpoints.TCP4ServerEndpoint

    class CountingFactory(WrappingFactory):
        def buildProtocol(self, addr: Any) -> Any:  # noqa: N802 (twisted's name)
            assert counters is not None
            counters.connection()
            return super().buildProtocol(addr)

    class LoopbackEndpoint(original):  # type: ignore[misc, valid-type]
        def __init__(self, reactor: Any, port: int, backlog: int = 50, interface: str = "") -> None:
            super().__init__(reactor, port, backlog, interface or host)

        def listen(self, factory: Any) -> Any:
            return super().listen(CountingFactory(factory) if counters else factory)

    endpoints.TCP4ServerEndpoint = LoopbackEndpoint


def _count_requests(counters: Counters) -> None:
    """Count each request as the gateway receives it, before any service handles it."""
    from localstack.aws.app import LocalstackAwsGateway

    original_init = LocalstackAwsGateway.__init__

    def count(chain: Any, context: Any, response: Any) -> None:
        request = context.request
        auth = request.headers.get("Authorization", "")
        parts = auth.split("/")
        service = parts[-2] if len(parts) >= 4 and parts[-1].startswith("aws4_request") else "s3"
        headers = len(request.method) + len(request.full_path) + 12 + sum(
            len(k) + len(v) + 4 for k, v in request.headers.items())
        length = request.headers.get("Content-Length", "")
        counters.request(service, request.method, headers, int(length) if length.isdigit() else 0)

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.request_handlers.insert(0, count)

    LocalstackAwsGateway.__init__ = init


def _own_s3_storage(data_dir: str) -> None:
    """S3 keeps object bodies in a fixed ``/tmp`` folder that every instance would share."""
    from localstack.services.s3 import provider

    provider.DEFAULT_S3_TMP_DIR = os.path.join(data_dir, "s3")


def _serve_counters(host: str, counters: Counters) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = counters.snapshot()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((host, 0), Handler)
    threading.Thread(target=server.serve_forever, name="counters", daemon=True).start()
    print(f"Counters on http://{host}:{server.server_address[1]}", flush=True)


def _stop_with_parent() -> None:
    """Our standard input is a pipe only the parent writes to: end-of-file means it is gone."""

    def watch() -> None:
        sys.stdin.buffer.read()
        # The parent read our output: with it gone, a write would fail and stop the shutdown.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.dup2(devnull, sys.stderr.fileno())
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--data-dir", required=True, help="removed once LocalStack has stopped")
    parser.add_argument("--counters", action="store_true")
    args = parser.parse_args()
    counters = Counters() if args.counters else None
    try:
        _bind_loopback(args.host, counters)
        _own_s3_storage(args.data_dir)
        if counters:
            _count_requests(counters)
            _serve_counters(args.host, counters)
        _stop_with_parent()
        from localstack.runtime.main import main as localstack_main

        localstack_main()
    finally:
        shutil.rmtree(args.data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
