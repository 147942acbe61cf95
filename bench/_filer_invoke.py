"""Invoke the filer's Lambda handler once, with one SQS event, in a process of its own.

The benchmark runs this as a child (``python -m bench._filer_invoke EVENT.json``) with the
environment the function has in AWS, so the filer's CPU and peak RSS are measured alone, as
Lambda would bill and limit them. It prints the in-process timings (import, handler, and the
handler's CPU) as a JSON line: the handler time is the filing itself, the process time adds
interpreter start and imports (a Lambda cold start).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    started = time.perf_counter()
    event = json.loads(Path(argv[0]).read_text())
    memory_mb = int(argv[1]) if len(argv) > 1 else 256
    from artifact_backup.local.worker import LambdaContext
    from artifact_filer.handler import handler

    imported = time.perf_counter()
    cpu_before = time.process_time()  # every thread of the process: the filing's own CPU
    result = handler(event, LambdaContext(memory_limit_in_mb=memory_mb)) or {}
    cpu = time.process_time() - cpu_before
    done = time.perf_counter()
    failures = result.get("batchItemFailures", [])
    print(json.dumps({"import_s": imported - started, "handler_s": done - imported, "handler_cpu_s": cpu,
                      "failures": len(failures)}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
