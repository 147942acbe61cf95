"""One boto3 ``upload_file`` with its defaults: the raw transfer limit against the server.

Run by the benchmark in its own process (``python -m bench._boto3_upload ENDPOINT BUCKET KEY FILE``)
so its CPU and memory are its own; it prints its in-process timings as a JSON line.
"""

from __future__ import annotations

import json
import sys
import time


def main(argv: list[str]) -> int:
    endpoint, bucket, key, path = argv
    started = time.perf_counter()
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint)
    imported = time.perf_counter()
    client.upload_file(path, bucket, key)
    done = time.perf_counter()
    print(json.dumps({"import_s": imported - started, "upload_s": done - imported}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
