"""``artifact-backup local --filer-timeout``: the local backend with invocations far shorter than a
run's filing, so the run is filed over several of them, each handing it on through the queue."""

from __future__ import annotations

import io
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from artifact_backup import backup_run, load_config
from artifact_backup.cli import build_parser
from artifact_backup.cli._console import Console
from artifact_backup.journal import Journal
from artifact_contract import RunRecord, archive_key, run_record_key
from tests.support.local import backend_under_test, swapped_filer
from tests.support.s3 import list_keys

pytestmark = pytest.mark.integration

PROJECT = "RMI25320"
TS = "20251030_1200"
TRANSFER = "  transfer:\n    pack_threshold_mb: 0.03\n    pack_max_mb: 0.06\n    wait_timeout_seconds: 120\n"


def project(root: Path) -> dict[str, bytes]:
    """Twenty small logs (several packs) and three files large enough to travel alone."""
    files = {f"logs/reel_{i % 2}/batch_{i:02d}.log": os.urandom(9_000) for i in range(20)}
    files.update({f"gis_data/tile_{i}.gpkg": os.urandom(50_000 + i) for i in range(3)})
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def parse(*argv: str) -> Any:
    parser, _ = build_parser(only="local")
    return parser.parse_args(["local", "--backend", backend_under_test(), *argv])


def test_filer_timeout_must_be_a_positive_number_of_seconds_within_lambdas_limit(capsys):
    assert parse("--filer-timeout", "2.5").filer_timeout == 2.5
    for bad in ("0", "-1", "901", "soon"):
        with pytest.raises(SystemExit):
            parse("--filer-timeout", bad)
    assert "--filer-timeout" in capsys.readouterr().err


def test_a_run_is_filed_over_several_short_invocations(tmp_path, isolated_cache):
    args = parse("--port", "0", "--filer-timeout", "0.05", "--json")
    out = Announced()
    stop = threading.Event()
    with swapped_filer():
        backend = threading.Thread(target=args.run, args=(args, Console(json_output=True, stdout=out), stop))
        backend.start()
        try:
            assert out.written.wait(timeout=120), "artifact-backup local did not start"
            started = json.loads(out.getvalue())
            from artifact_filer import handler

            sent: list[str] = []
            filer = handler.get_filer()
            real_send = filer.continuer.send
            filer.continuer.send = lambda bucket, key, n: (sent.append(key), real_send(bucket, key, n))

            folder = tmp_path / PROJECT
            files = project(folder)
            config = tmp_path / "config.yaml"
            block = (f"aws:\n  s3_bucket_raw: {started['archive_bucket']}\n  region: {started['region']}\n"
                     f"  endpoint_url: {started['endpoint_url']}\n")
            config.write_text(block + TRANSFER, encoding="utf-8")
            result = backup_run(folder, settings=load_config(config), project_key=PROJECT,
                                include=["logs", "gis_data"], timestamp=TS, journal=Journal(tmp_path / "j"))
            s3 = _client(started)
            bucket = started["archive_bucket"]
            stored = {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read()
                      for k in list_keys(s3, bucket, f"{PROJECT}/") if "/_runs/" not in k}
            record = RunRecord.from_json(s3.get_object(
                Bucket=bucket, Key=run_record_key(PROJECT, TS, result.run_id))["Body"].read())
            progress = list_keys(s3, started["staging_bucket"], "progress/")
        finally:
            stop.set()
            backend.join(timeout=60)

    assert result.ok, result
    # The invocations had no time to file the run in one: it was handed on through the queue.
    assert sent, "the filing never continued in another invocation"
    expected = {archive_key(PROJECT, name.split("/", 1)[0], TS, name.split("/", 1)[1]): data
                for name, data in files.items()}
    assert stored == expected
    assert {f.key for f in record.files} == set(expected)
    assert progress == []


class Announced(io.StringIO):
    """The backend's output, telling when its announcement (a JSON document, then a flush) is out."""

    def __init__(self) -> None:
        super().__init__()
        self.written = threading.Event()

    def flush(self) -> None:
        super().flush()
        if self.getvalue().strip():
            self.written.set()


def _client(started: dict[str, Any]) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=started["endpoint_url"], region_name=started["region"],
                        aws_access_key_id="testing", aws_secret_access_key="testing")
