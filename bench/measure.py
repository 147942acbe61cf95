"""Run one tool as a child process and measure it: wall, CPU, peak RSS, requests and bytes.

CPU and peak RSS come from ``os.wait4``: the kernel's own accounting of the child, including any
processes it started and waited for (the wrapper script of a CLI, a helper binary). ``ru_maxrss``
is the peak resident set of the largest process in that tree, which is the figure that decides
whether a tool fits in a Lambda or on a field laptop. Nothing polls the child, so measuring costs
it nothing. Tools are started by a small launcher process (:mod:`bench._launcher`): Linux would
otherwise count the benchmark's own resident set, up to the ``exec``, in every tool's peak.

Requests and bytes are the server's counters (see :mod:`bench.server`) read just before the child
starts and just after it exits; nothing else talks to the server in between. The server's own CPU
over the same window is recorded too: on a two-core machine the server and the tool share the
CPUs, so a tool that makes the server work harder pays for it in wall time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from .server import CountingServer

#: Lines of a child's output kept in the results when it fails.
_TAIL_LINES = 20


class ToolFailedError(RuntimeError):
    """A measured tool exited non-zero: its numbers would be meaningless."""


def failed(what: str, child: Any) -> ToolFailedError:
    """The error for a child that exited non-zero (or left no output), with its output's last lines."""
    tail = "\n".join((child.stdout + child.stderr).strip().splitlines()[-_TAIL_LINES:])
    return ToolFailedError(f"{what} exited {child.returncode}:\n{tail}")


@dataclass
class Measurement:
    """One run of one tool on one dataset."""

    scenario: str
    tool: str
    rep: int
    wall_s: float
    cpu_s: float
    user_s: float
    sys_s: float
    peak_rss_mb: float
    requests: int
    connections: int | None
    bytes_sent: int
    body_bytes: int
    server_cpu_s: float
    by_service: dict[str, int] = field(default_factory=dict)
    by_method: dict[str, int] = field(default_factory=dict)
    #: What the child reported about itself on its last stdout line (JSON), e.g. in-process timings.
    inner: dict[str, Any] = field(default_factory=dict)
    #: Extra numbers a step adds, e.g. the filer worker's own CPU in an end-to-end run.
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _diff(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def _last_json_line(text: str) -> dict[str, Any]:
    """The last line that is a JSON object, or the whole output where it is one (indented) document."""
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    if isinstance(whole, dict):
        return whole
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return {}


@dataclass
class ChildResult:
    """What ``wait4`` and the child's output tell about one finished child."""

    returncode: int
    wall_s: float
    user_s: float
    sys_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str


class _Launcher:
    """The small process that starts every measured tool (:mod:`bench._launcher`), started once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "bench._launcher"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    text=True, cwd=str(Path(__file__).resolve().parent.parent),
                    env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
                )
            assert self._process.stdin is not None
            assert self._process.stdout is not None
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
            answer = self._process.stdout.readline()
        if not answer:
            raise ToolFailedError("the benchmark's launcher process died")
        return json.loads(answer)


_LAUNCHER = _Launcher()


def run_child(
    argv: Sequence[str], env: Mapping[str, str], timeout_s: float, cwd: str | None = None
) -> ChildResult:
    """Start ``argv`` from the launcher, reaped with ``wait4``, and return its timings.

    Output goes to temporary files rather than pipes, so the child never blocks on a full pipe and
    the harness reads nothing while the child runs. A watchdog kills the child after ``timeout_s``
    so a hung tool cannot hang the benchmark. The launcher, not this process, starts the child, so
    its peak RSS is not this process's (see :mod:`bench._launcher`).
    """
    with tempfile.TemporaryDirectory(prefix="bench-child-") as folder:
        out, err = Path(folder, "stdout"), Path(folder, "stderr")
        answer = _LAUNCHER.run({"argv": list(argv), "env": dict(env), "cwd": cwd, "timeout_s": timeout_s,
                                "stdout": str(out), "stderr": str(err)})
        return ChildResult(
            returncode=answer["returncode"],
            wall_s=answer["wall_s"],
            user_s=answer["user_s"],
            sys_s=answer["sys_s"],
            peak_rss_mb=answer["maxrss_kb"] / 1024,  # kilobytes on Linux
            stdout=out.read_bytes().decode(errors="replace"),
            stderr=err.read_bytes().decode(errors="replace"),
        )


class Meter:
    """Measures children against one server: counters and server CPU around each child."""

    def __init__(self, server: CountingServer, timeout_s: float) -> None:
        self.server = server
        self.timeout_s = timeout_s
        self._server_process = psutil.Process(server.pid)

    def _server_cpu(self) -> float:
        times = self._server_process.cpu_times()
        return times.user + times.system

    def measure(
        self,
        scenario: str,
        tool: str,
        rep: int,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str | None = None,
    ) -> Measurement:
        """Run ``argv`` once; raise :class:`ToolFailedError` if it fails."""
        before = self.server.counters()
        cpu_before = self._server_cpu()
        child = run_child(argv, env, self.timeout_s, cwd)
        cpu_after = self._server_cpu()
        after = self.server.counters()
        if child.returncode != 0:
            raise failed(f"{tool} on {scenario}", child)
        return Measurement(
            scenario=scenario,
            tool=tool,
            rep=rep,
            wall_s=child.wall_s,
            cpu_s=child.user_s + child.sys_s,
            user_s=child.user_s,
            sys_s=child.sys_s,
            peak_rss_mb=child.peak_rss_mb,
            requests=after["requests"] - before["requests"],
            connections=after.get("connections", 0) - before.get("connections", 0),
            bytes_sent=(after["body_bytes"] + after["header_bytes"])
            - (before["body_bytes"] + before["header_bytes"]),
            body_bytes=after["body_bytes"] - before["body_bytes"],
            server_cpu_s=cpu_after - cpu_before,
            by_service=_diff(after["by_service"], before["by_service"]),
            by_method=_diff(after["by_method"], before["by_method"]),
            inner=_last_json_line(child.stdout),
        )
