"""A fault-injecting HTTP proxy to put in front of the embedded S3 server.

S3 fails in ways the code under test must survive without being told: ``500 InternalError``,
``503 SlowDown`` bursts, connections dropped before a request arrives, after S3 has already acted
on it, or half-way through an answer. The proxy produces exactly those failures on the wire, so the
client and the filer meet them through their own botocore retry logic, unchanged; nothing of ours is
patched. It also counts requests and request-body bytes, which is how a test learns what a resumed
upload really sent again.

Where the embedded server falls short of S3 in a way retries and races expose, the proxy makes it
answer as S3 does: ``If-None-Match: *`` on CopyObject is refused with ``412`` when the key exists,
and conditional writes are decided one at a time (atomically, as S3 decides them).

Rules are matched against ``"METHOD /path?query"`` (path-style S3 addressing, as the local stack
uses), first match wins, each for a number of hits or for ever::

    with FaultProxy(server.endpoint_url) as proxy:
        proxy.inject("503", r"^PUT /staging/incoming/", times=2)
        proxy.inject("drop-after", r"^PUT .*/manifest\\.json", times=1)
        ... point the client's endpoint_url at proxy.endpoint_url ...
"""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlparse

#: What a rule can do to a matching request.
#:
#: ``500``, ``503``: answer with S3's ``InternalError`` / ``SlowDown`` without forwarding.
#: ``drop``: read the request, then close the connection without an answer (never reaches S3).
#: ``drop-mid-request``: close after reading half the request body.
#: ``drop-after``: forward the request (S3 acts on it), then close without an answer.
#: ``truncate``: forward, then send the answer's headers and half its body, and close.
#: ``stall``: hold the request until :meth:`FaultProxy.release` (or close), then drop it.
#: ``corrupt``: forward the request with one byte of its body changed, as a bad link or memory
#: would, after the client computed its checksums (a strict server refuses it; moto stores it).
FAULTS = ("500", "503", "drop", "drop-mid-request", "drop-after", "truncate", "stall", "corrupt")

_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
    "te", "trailers", "transfer-encoding", "upgrade", "expect", "content-length",
})
_ERRORS = {
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "503": (503, "SlowDown", "Please reduce your request rate."),
}


@dataclass
class Rule:
    """Inject ``fault`` into requests whose ``"METHOD /path?query"`` matches ``pattern``.

    ``times`` bounds the hits (``None``: every matching request); ``skip`` lets that many matching
    requests through first; ``when`` can refine the match (it sees the request line).
    """

    fault: str
    pattern: re.Pattern[str]
    times: int | None = 1
    skip: int = 0
    when: Callable[[str], bool] | None = None
    hits: int = 0
    seen: int = 0

    def take(self, line: str) -> bool:
        if not self.pattern.search(line) or (self.when is not None and not self.when(line)):
            return False
        self.seen += 1
        if self.seen <= self.skip:
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        self.hits += 1
        return True


@dataclass(frozen=True)
class Exchange:
    """One request as the proxy saw it: what was asked, how many body bytes came, what happened."""

    line: str
    body_bytes: int
    outcome: str  # an HTTP status ("200") or the fault injected


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    rules: list[Rule] = field(default_factory=list)
    log: list[Exchange] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    stalled: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    #: Requests being relayed right now; an exchange is logged only once its answer is in.
    in_flight: int = 0
    idle: threading.Condition = field(default_factory=threading.Condition)


class _IncompleteBody(Exception):
    def __init__(self, received: int) -> None:
        super().__init__(f"the client sent {received} bytes of the body and stopped")
        self.received = received


class FaultProxy:
    """An HTTP/1.1 proxy on 127.0.0.1 relaying to ``upstream`` (the local S3 server), with faults."""

    def __init__(self, upstream: str, host: str = "127.0.0.1", port: int = 0) -> None:
        parsed = urlparse(upstream)
        if parsed.hostname is None or parsed.port is None:
            raise ValueError(f"upstream {upstream!r} needs a host and a port")
        self.upstream = (parsed.hostname, parsed.port)
        self._state = _State()
        self._server = _QuietServer((host, port), _handler(self.upstream, self._state))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- rules and counts -------------------------------------------------------------------------

    def inject(
        self,
        fault: str,
        pattern: str = r".",
        *,
        times: int | None = 1,
        skip: int = 0,
        when: Callable[[str], bool] | None = None,
    ) -> Rule:
        """Add a rule (after the existing ones) and return it, so a test can read its ``hits``."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; choose from {', '.join(FAULTS)}")
        rule = Rule(fault, re.compile(pattern), times, skip, when)
        with self._state.lock:
            self._state.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule and forget the log; stalled requests are released."""
        with self._state.lock:
            self._state.rules.clear()
            self._state.log.clear()
        self.release()
        self._state.released = threading.Event()

    def release(self) -> None:
        """Let every stalled request go (they are dropped, as a killed client would leave them)."""
        self._state.released.set()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being relayed, so the log holds every exchange that happened.

        A client killed mid-request leaves its request in the proxy, which still forwards a body
        that came whole: S3 stores it, and only then is the exchange logged.
        """
        state = self._state
        with state.idle:
            return state.idle.wait_for(lambda: state.in_flight == 0, timeout=timeout)

    def wait_stalled(self, timeout: float) -> bool:
        """Wait until a request is held by a ``stall`` rule."""
        return self._state.stalled.acquire(timeout=timeout)

    @property
    def exchanges(self) -> list[Exchange]:
        with self._state.lock:
            return list(self._state.log)

    def faults_injected(self) -> int:
        with self._state.lock:
            return sum(rule.hits for rule in self._state.rules)

    def body_bytes(self, pattern: str = r".", *, delivered: bool = True) -> int:
        """Request-body bytes of matching requests; ``delivered`` counts only those S3 answered 2xx."""
        rx = re.compile(pattern)
        return sum(
            e.body_bytes for e in self.exchanges
            if rx.search(e.line) and (not delivered or e.outcome.startswith("2"))
        )

    # -- life cycle -------------------------------------------------------------------------------

    def start(self) -> str:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        return self.endpoint_url

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _QuietServer(ThreadingHTTPServer):
    """Clients that are killed or give up mid-request are the point here, not errors to print."""

    def handle_error(self, request: object, client_address: object) -> None:
        return


def _error_body(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        "<RequestId>FAULTPROXY</RequestId><HostId>fault-proxy</HostId></Error>"
    ).encode()


def _handler(upstream: tuple[str, int], state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        _upstream: http.client.HTTPConnection | None = None

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
            return

        def _read_body(self, half: bool = False) -> bytes:
            """The request's body; :class:`_IncompleteBody` when the client stops sending before
            its end (``half`` reads half on purpose, for ``drop-mid-request``)."""
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    line = self.rfile.readline()
                    if not line:
                        raise _IncompleteBody(sum(map(len, chunks)))
                    size = int(line.split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunk = self.rfile.read(size)
                    chunks.append(chunk)
                    if len(chunk) < size:
                        raise _IncompleteBody(sum(map(len, chunks)))
                    self.rfile.readline()
                    if half:
                        return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length // 2 if half else length)
            if not half and len(body) < length:
                raise _IncompleteBody(len(body))
            return body

        def _record(self, line: str, body: int, outcome: str) -> None:
            with state.lock:
                state.log.append(Exchange(line, body, outcome))

        def _pick(self, line: str) -> str | None:
            with state.lock:
                for rule in state.rules:
                    if rule.take(line):
                        return rule.fault
            return None

        def _drop(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):  # a reset, not a polite close
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

        def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            if body or self.command in ("PUT", "POST"):
                headers["Content-Length"] = str(len(body))
            for attempt in range(2):
                if self._upstream is None:
                    self._upstream = http.client.HTTPConnection(*upstream, timeout=120)
                try:
                    self._upstream.request(self.command, self.path, body=body, headers=headers)
                    response = self._upstream.getresponse()
                    data = response.read()
                    return response.status, response.reason, response.getheaders(), data
                except (ConnectionError, http.client.HTTPException):
                    self._upstream.close()
                    self._upstream = None
                    if attempt:
                        raise
            raise AssertionError("unreachable")

        def _answer(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _conditional_copy(self) -> bool:
            """S3 honours ``If-None-Match: *`` on CopyObject; the embedded server ignores it, so a
            copy retried after its answer was lost would write a second version. Stand in for S3."""
            if self.command != "PUT" or "x-amz-copy-source" not in self.headers:
                return False
            return self.headers.get("If-None-Match") == "*" and "uploadId=" not in self.path

        def _exists_upstream(self) -> bool:
            head = http.client.HTTPConnection(*upstream, timeout=30)
            try:
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("host", "authorization", "x-amz-date", "x-amz-content-sha256")}
                head.request("HEAD", self.path, headers=headers)
                response = head.getresponse()
                response.read()
                return response.status == 200
            finally:
                head.close()

        def _relay(self) -> None:
            with state.idle:
                state.in_flight += 1
            try:
                self._relay_one()
            finally:
                with state.idle:
                    state.in_flight -= 1
                    state.idle.notify_all()

        def _relay_one(self) -> None:
            line = f"{self.command} {self.path}"
            fault = self._pick(line)
            try:
                body = self._read_body(half=fault == "drop-mid-request")
            except _IncompleteBody as gone:
                # The client stopped sending (killed, or its connection cut) before the body's end.
                # S3 never stores such a request; the embedded server would store what came.
                self._record(line, gone.received, "incomplete")
                self._drop()
                return
            if fault in ("drop", "drop-mid-request"):
                self._record(line, len(body), fault)
                self._drop()
                return
            if fault == "stall":
                self._record(line, len(body), fault)
                state.stalled.release()
                state.released.wait()
                self._drop()
                return
            if fault in _ERRORS:
                status, code, message = _ERRORS[fault]
                self._record(line, len(body), fault)
                self._answer(status, _error_body(code, message))
                return
            if fault == "corrupt" and body:
                middle = len(body) // 2
                body = body[:middle] + bytes([body[middle] ^ 0x01]) + body[middle + 1:]
            conditional = self.headers.get("If-None-Match") == "*" and self.command in ("PUT", "POST")
            conditional_copy = conditional and self._conditional_copy()
            if conditional:
                # S3 decides a conditional write atomically; the embedded server checks, then
                # writes, so two racing writers could both pass. One at a time through here.
                state.write_lock.acquire()
            try:
                if conditional_copy and self._exists_upstream():
                    self._record(line, len(body), "412")
                    self._answer(412, _error_body("PreconditionFailed", "At least one of the "
                                                  "pre-conditions you specified did not hold"))
                    return
                status, reason, headers, data = self._forward(body)
            finally:
                if conditional:
                    state.write_lock.release()
            if fault == "drop-after":
                self._record(line, len(body), fault)
                self._drop()
                return
            # A corrupted request is logged with the server's answer to it ("corrupt 400").
            self._record(line, len(body), f"{fault} {status}" if fault == "corrupt" else fault or str(status))
            self.send_response(status, reason)
            for name, value in headers:
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            if self.command == "HEAD":
                length = dict((k.lower(), v) for k, v in headers).get("content-length")
                if length is not None:
                    self.send_header("Content-Length", length)
                self.end_headers()
                return
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if fault == "truncate":
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self._drop()
                return
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay  # noqa: N815 - http.server's names

        def finish(self) -> None:
            try:
                super().finish()
            finally:
                if self._upstream is not None:
                    self._upstream.close()

    return Handler
