"""The filer behind the queue, in a process of its own, for the end-to-end measurement.

``python -m bench._filer_worker STACK.json`` loads the handler, prints ``ready`` and then serves
the queue like Lambda's SQS event source (:class:`LocalFilerWorker`) until its standard input
closes, or a time limit passes, so it always stops by itself.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

#: The longest a worker serves; the benchmark closes its input long before.
MAX_SECONDS = 3600.0


def main(argv: list[str]) -> int:
    from artifact_backup.local import LocalFilerWorker, LocalStack, LocalStackNames, load_filer_handler

    raw = json.loads(Path(argv[0]).read_text())
    raw["names"] = LocalStackNames(**raw["names"])
    stack = LocalStack(**raw)
    worker = LocalFilerWorker(stack, load_filer_handler(stack), wait_seconds=1)
    stop = threading.Event()

    def watch_input() -> None:
        sys.stdin.read()  # returns at end of file: the benchmark is done with us
        stop.set()

    threading.Thread(target=watch_input, daemon=True).start()
    print("ready", flush=True)
    deadline = time.monotonic() + MAX_SECONDS
    received = failed = 0
    while not stop.is_set() and time.monotonic() < deadline:
        outcome = worker.poll_once()
        received += outcome.received
        failed += outcome.failed
    print(json.dumps({"received": received, "failed": failed, "batches": worker.batches}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
