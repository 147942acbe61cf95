"""The corpus's filer in a process of its own, so its peak memory is the filer's alone.

``python -m tests.hostile.filer_process STACK.json`` serves the stack's queue as Lambda's SQS event
source does (:class:`LocalFilerWorker`), its log lines (powertools JSON) on standard output. Each
line ``peak`` on its standard input is answered on standard error with the process's peak resident
set so far (``getrusage``'s high-water mark), as ``{"peak_rss_bytes": N}``; it stops when its input
closes, or after a time limit, so it always stops by itself.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

#: The longest the worker serves; the corpus closes its input long before.
MAX_SECONDS = 900.0


def peak_rss_bytes() -> int:
    """The process's peak resident set: ``ru_maxrss`` is in kilobytes on Linux, bytes on macOS;
    Windows has no ``resource`` and tells its peak working set through psutil."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        import psutil

        return int(psutil.Process().memory_info().peak_wset)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def stack_from(path: Path) -> Any:
    from artifact_backup.local import LocalStack, LocalStackNames

    raw = json.loads(path.read_text())
    raw["names"] = LocalStackNames(**raw["names"])
    return LocalStack(**raw)


def main(argv: list[str]) -> int:
    from artifact_backup.local import LocalFilerWorker

    worker = LocalFilerWorker(stack_from(Path(argv[0])), log_level="INFO", wait_seconds=1)
    stop = threading.Event()

    def answer_input() -> None:
        for line in sys.stdin:
            if line.strip() == "peak":
                sys.stderr.write(json.dumps({"peak_rss_bytes": peak_rss_bytes()}) + "\n")
                sys.stderr.flush()
        stop.set()

    threading.Thread(target=answer_input, daemon=True).start()
    sys.stderr.write("ready\n")
    sys.stderr.flush()
    deadline = time.monotonic() + MAX_SECONDS
    while not stop.is_set() and time.monotonic() < deadline:
        worker.poll_once()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
