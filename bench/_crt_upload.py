"""boto3's CRT transfer manager (``s3transfer.crt``) uploading a file or a folder, with its defaults.

Run by the benchmark in its own process (``python -m bench._crt_upload ENDPOINT BUCKET PREFIX PATH``)
so its CPU and memory are its own. A folder's files go to ``PREFIX/<path relative to the folder>``,
as ``aws s3 sync`` names them; a single file to ``PREFIX/<its name>``. It prints its in-process
timings as a JSON line.

``boto3.s3.transfer.create_transfer_manager(preferred_transfer_client="crt")`` builds the same
manager but for the AWS endpoint only (boto3 hands the CRT serializer no endpoint URL), so the
manager is assembled here from the same parts with the server's endpoint: the CRT S3 client with
its default part size and throughput target, and botocore's request serializer.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def _files(source: Path, prefix: str) -> Iterator[tuple[str, str]]:
    """(path, key) for every file, listed as it is walked (never a whole listing in memory)."""
    if source.is_file():
        yield str(source), f"{prefix}/{source.name}"
        return
    for folder, _dirs, names in os.walk(source):
        for name in names:
            path = Path(folder, name)
            yield str(path), f"{prefix}/{path.relative_to(source).as_posix()}"


def main(argv: list[str]) -> int:
    endpoint, bucket, prefix, source = argv
    started = time.perf_counter()
    import botocore.session
    from s3transfer.crt import (
        BotocoreCRTCredentialsWrapper,
        BotocoreCRTRequestSerializer,
        CRTTransferManager,
        create_s3_crt_client,
    )

    session = botocore.session.get_session()
    region = session.get_config_variable("region") or "us-east-1"
    credentials = BotocoreCRTCredentialsWrapper(session.get_credentials()).to_crt_credentials_provider()
    crt_client = create_s3_crt_client(
        region, crt_credentials_provider=credentials, use_ssl=endpoint.startswith("https:")
    )
    serializer = BotocoreCRTRequestSerializer(session, {"region_name": region, "endpoint_url": endpoint})
    imported = time.perf_counter()
    files = 0
    with CRTTransferManager(crt_client, serializer) as manager:
        futures = []
        for path, key in _files(Path(source), prefix):
            futures.append(manager.upload(path, bucket, key))
            files += 1
        for future in futures:
            future.result()
    done = time.perf_counter()
    print(json.dumps({"import_s": imported - started, "upload_s": done - imported, "files": files}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
