"""The wire side of :class:`tests.support.faults.FaultProxy`: one request in, a fault or S3's
answer out.

A request is read whole (or found cut short), matched against the proxy's rules, then either
refused by its fault without reaching S3, or forwarded (one conditional write at a time, with S3's
``If-None-Match: *`` on CopyObject stood in for) and its answer relayed, cut or dropped as the
fault says.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .faults import Rule

_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
    "te", "trailers", "transfer-encoding", "upgrade", "expect", "content-length",
})
_ERRORS = {
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "503": (503, "SlowDown", "Please reduce your request rate."),
}
#: The faults that answer, or drop, without forwarding the request to S3.
_REFUSING = frozenset({"drop", "drop-mid-request", "stall", *_ERRORS})


@dataclass(frozen=True)
class Exchange:
    """One request as the proxy saw it: what was asked, how many body bytes came, what happened."""

    line: str
    body_bytes: int
    outcome: str  # an HTTP status ("200") or the fault injected


@dataclass
class RelayState:
    """What the proxy and its request threads share."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    rules: list[Rule] = field(default_factory=list)
    log: list[Exchange] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    stalled: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    #: Requests being relayed right now; an exchange is logged only once its answer is in.
    in_flight: int = 0
    idle: threading.Condition = field(default_factory=threading.Condition)


class RelayServer(ThreadingHTTPServer):
    """The proxy's listener: it knows the upstream S3 server and the shared state.

    Clients that are killed or give up mid-request are the point here, not errors to print.
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], upstream: tuple[str, int], state: RelayState) -> None:
        self.upstream = upstream
        self.state = state
        super().__init__(address, RelayHandler)

    def handle_error(self, request: object, client_address: object) -> None:
        return


class _IncompleteBody(Exception):
    def __init__(self, received: int) -> None:
        super().__init__(f"the client sent {received} bytes of the body and stopped")
        self.received = received


def _error_body(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        "<RequestId>FAULTPROXY</RequestId><HostId>fault-proxy</HostId></Error>"
    ).encode()


class RelayHandler(BaseHTTPRequestHandler):
    """One client connection; each request on it is relayed by :meth:`_relay`."""

    protocol_version = "HTTP/1.1"
    server: RelayServer
    _upstream: http.client.HTTPConnection | None = None

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        return

    @property
    def state(self) -> RelayState:
        return self.server.state

    # -- one request ------------------------------------------------------------------------------

    def _relay(self) -> None:
        with self.state.idle:
            self.state.in_flight += 1
        try:
            self._relay_one()
        finally:
            with self.state.idle:
                self.state.in_flight -= 1
                self.state.idle.notify_all()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay  # noqa: N815 - http.server's names

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
        if fault in _REFUSING:
            self._refuse(line, len(body), fault)
            return
        if fault == "corrupt" and body:
            middle = len(body) // 2
            body = body[:middle] + bytes([body[middle] ^ 0x01]) + body[middle + 1:]
        answer = self._forward_decided(line, body)
        if answer is None:
            return
        if fault == "drop-after":
            self._record(line, len(body), fault)
            self._drop()
            return
        status = answer[0]
        # A corrupted request is logged with the server's answer to it ("corrupt 400").
        self._record(line, len(body), f"{fault} {status}" if fault == "corrupt" else fault or str(status))
        self._send_answer(*answer, truncate=fault == "truncate")

    def _refuse(self, line: str, body: int, fault: str) -> None:
        """A fault that never reaches S3: a drop, a stall until released, or an error answer."""
        self._record(line, body, fault)
        if fault == "stall":
            self.state.stalled.release()
            self.state.released.wait()
        if fault in _ERRORS:
            status, code, message = _ERRORS[fault]
            self._answer(status, _error_body(code, message))
            return
        self._drop()

    def _forward_decided(
        self, line: str, body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes] | None:
        """S3's answer to the request, with conditional writes decided as S3 decides them; None
        when the proxy answered in S3's place (a conditional copy onto an existing key)."""
        conditional = self.headers.get("If-None-Match") == "*" and self.command in ("PUT", "POST")
        if not conditional:
            return self._forward(body)
        # S3 decides a conditional write atomically; the embedded server checks, then writes, so
        # two racing writers could both pass. One at a time through here.
        with self.state.write_lock:
            if self._conditional_copy() and self._exists_upstream():
                self._record(line, len(body), "412")
                self._answer(412, _error_body("PreconditionFailed", "At least one of the "
                                              "pre-conditions you specified did not hold"))
                return None
            return self._forward(body)

    # -- the wire ---------------------------------------------------------------------------------

    def _read_body(self, half: bool = False) -> bytes:
        """The request's body; :class:`_IncompleteBody` when the client stops sending before its
        end (``half`` reads half on purpose, for ``drop-mid-request``)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked(half)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length // 2 if half else length)
        if not half and len(body) < length:
            raise _IncompleteBody(len(body))
        return body

    def _read_chunked(self, half: bool) -> bytes:
        chunks: list[bytes] = []
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

    def _record(self, line: str, body: int, outcome: str) -> None:
        with self.state.lock:
            self.state.log.append(Exchange(line, body, outcome))

    def _pick(self, line: str) -> str | None:
        with self.state.lock:
            for rule in self.state.rules:
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
                self._upstream = http.client.HTTPConnection(*self.server.upstream, timeout=120)
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

    def _send_answer(
        self, status: int, reason: str, headers: list[tuple[str, str]], data: bytes, *, truncate: bool
    ) -> None:
        """Relay S3's answer; ``truncate`` sends its headers and half its body, then resets."""
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
        if truncate:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self._drop()
            return
        self.wfile.write(data)

    def _conditional_copy(self) -> bool:
        """S3 honours ``If-None-Match: *`` on CopyObject; the embedded server ignores it, so a copy
        retried after its answer was lost would write a second version. Stand in for S3."""
        if self.command != "PUT" or "x-amz-copy-source" not in self.headers:
            return False
        return self.headers.get("If-None-Match") == "*" and "uploadId=" not in self.path

    def _exists_upstream(self) -> bool:
        head = http.client.HTTPConnection(*self.server.upstream, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() in ("host", "authorization", "x-amz-date", "x-amz-content-sha256")}
            head.request("HEAD", self.path, headers=headers)
            response = head.getresponse()
            response.read()
            return response.status == 200
        finally:
            head.close()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self._upstream is not None:
                self._upstream.close()
