"""Start the measured tools from a small process of its own, and reap them with ``wait4``.

Linux charges a child, in its ``ru_maxrss``, with the resident set of the process it was forked
from, up to its ``exec``: a tool started by the benchmark itself (which holds the server's client,
the datasets' listings, the results) would report at least the benchmark's own peak, whatever it
used. Started from this process, which imports next to nothing, a tool's peak is its own.

Reads one JSON request per line on standard input (argv, env, cwd, timeout and the files for the
tool's output) and answers each with one JSON line of the child's return code, times and usage.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time


def main() -> int:
    for line in sys.stdin:
        request = json.loads(line)
        with open(request["stdout"], "wb") as out, open(request["stderr"], "wb") as err:
            start = time.perf_counter()
            process = subprocess.Popen(request["argv"], env=request["env"], stdout=out, stderr=err,
                                       cwd=request["cwd"])
            killer = threading.Timer(request["timeout_s"], process.kill)
            killer.start()
            try:
                _, status, usage = os.wait4(process.pid, 0)
            finally:
                killer.cancel()
            wall = time.perf_counter() - start
        answer = {
            "returncode": os.waitstatus_to_exitcode(status),
            "wall_s": wall,
            "user_s": usage.ru_utime,
            "sys_s": usage.ru_stime,
            "maxrss_kb": usage.ru_maxrss,
        }
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
