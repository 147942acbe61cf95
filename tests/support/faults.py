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

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlparse

from .fault_relay import Exchange, RelayServer, RelayState

__all__ = ["FAULTS", "Exchange", "FaultProxy", "Rule"]

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


class FaultProxy:
    """An HTTP/1.1 proxy on 127.0.0.1 relaying to ``upstream`` (the local S3 server), with faults."""

    def __init__(self, upstream: str, host: str = "127.0.0.1", port: int = 0) -> None:
        parsed = urlparse(upstream)
        if parsed.hostname is None or parsed.port is None:
            raise ValueError(f"upstream {upstream!r} needs a host and a port")
        self.upstream = (parsed.hostname, parsed.port)
        self._state = RelayState()
        self._server = RelayServer((host, port), self.upstream, self._state)
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
