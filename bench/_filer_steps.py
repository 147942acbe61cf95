"""Invoke the filer's handler once, as :mod:`bench._filer_invoke` does, noting when each step of
docs/protocol.md is reached and what the filer and the S3 server had spent by then.

``python -m bench._filer_steps EVENT.json SERVER_PID OUT.json`` writes the marks as JSON: one
``[step, wall s, filer CPU s, server CPU s]`` per step reached, in order, from ``start`` to ``end``.
A filing is bound by the server as much as by the filer, so a profile of the filer's threads alone
would show it waiting; the server's CPU between two steps says what each step cost it. The step
hook is the filer's own (``FilerConfig.on_step``, which the fault suite kills the filer at), so
nothing in the filing changes.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any


def main(argv: list[str]) -> int:
    import psutil

    from artifact_backup.local.worker import LambdaContext
    from artifact_filer import handler as module

    event_path, server_pid, out_path = argv
    event = json.loads(Path(event_path).read_text())
    server = psutil.Process(int(server_pid))
    filer = module.get_filer()
    marks: list[list[Any]] = []
    lock = threading.Lock()
    started = time.perf_counter()

    def mark(step: str) -> None:
        spent = server.cpu_times()
        with lock:  # copies reach "object-filed" from several threads at once
            marks.append([step, time.perf_counter() - started, time.process_time(),
                          spent.user + spent.system])

    filer.config = dataclasses.replace(filer.config, on_step=mark)
    mark("start")
    result = module.handler(event, LambdaContext(memory_limit_in_mb=256)) or {}
    mark("end")
    Path(out_path).write_text(json.dumps({"marks": marks, "failures": result.get("batchItemFailures", [])}))
    return 1 if result.get("batchItemFailures") else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
