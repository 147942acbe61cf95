"""The demo: a sample project like the guide's RMI25320, backed up twice through the whole pipeline
(client → staging → queue → filer → archive) on the embedded S3 server, then shown as the guide
draws it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from artifact_contract import ARTIFACT_TYPES, format_timestamp, parse_runs_key
from artifact_contract.layout import RUNS_FOLDER

from ..transfer import BaseSubscriber
from ..tree import render_tree
from .backends import MOTO
from .sample import DROPPED_FILES, make_sample_project
from .session import LocalSession
from .stack import LocalStack

PROJECT_KEY = "RMI25320"

_CONFIG = """\
# config.yaml of the sample project (the user guide's keys)
schema_version: 1.2.0

# CHANGE LOG:
{changelog}
project:
  slug: "{project}"

orchestrator:
  upload_artifacts_to_s3: true
  artifact_types:
    - config
    - logs
    - report
    - gis_data

enhance:
  sigma: {sigma}

{aws}"""


@dataclass
class DemoRun:
    timestamp: str
    files: int
    bytes: int
    prefixes: list[str]


@dataclass
class DemoResult:
    archive_bucket: str
    project_key: str
    folder: Path
    runs: list[DemoRun] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    dropped_in_archive: list[str] = field(default_factory=list)

    @property
    def tree(self) -> str:
        return render_tree(
            f"s3://{self.archive_bucket}/{self.project_key}/",
            [k for k in self.keys if f"/{RUNS_FOLDER}/" not in k],
            f"{self.project_key}/",
        )

    @property
    def run_records(self) -> list[str]:
        parsed = ((k, parse_runs_key(self.project_key, k)) for k in self.keys)
        return [k for k, found in parsed if found is not None and found.kind == "record"]


def _write_config(folder: Path, stack: LocalStack, sigma: float, changelog: str) -> Path:
    path = folder / "config.yaml"
    path.write_text(
        _CONFIG.format(
            project=PROJECT_KEY, sigma=sigma, changelog=changelog, aws=stack.config_block()
        ),
        encoding="utf-8",
    )
    return path


def run_demo(
    workdir: Path,
    *,
    say: Callable[[str], None] = lambda _msg: None,
    subscribers: Iterable[BaseSubscriber] = (),
    now: datetime | None = None,
    backend: str = MOTO,
) -> DemoResult:
    """Back up two runs of a sample project through the local pipeline and read the archive back."""
    from ..config import load_config
    from ..journal import Journal
    from ..upload import backup_run

    now = now or datetime.now()
    first = format_timestamp(now - timedelta(days=1))
    second = format_timestamp(now)
    say(f"Starting the embedded S3 server ({backend}), the queue and the filer on 127.0.0.1 ...")
    with LocalSession(filer_log_level="WARNING", backend=backend) as stack:
        say(f"  S3 endpoint {stack.endpoint_url}; archive s3://{stack.names.archive_bucket}, "
            f"staging s3://{stack.names.staging_bucket}")
        folder = make_sample_project(workdir)
        say(f"Sample project written to {folder}")
        result = DemoResult(stack.names.archive_bucket, PROJECT_KEY, folder)
        journal = Journal(workdir / ".cache")
        runs = (
            (first, 1.0, "# first run: initial production config"),
            (second, 1.5, "# second run: enhancement sigma raised from 1.0 to 1.5"),
        )
        for timestamp, sigma, changelog in runs:
            config = _write_config(folder, stack, sigma, changelog)
            with (folder / "logs" / "process_log.txt").open("a", encoding="utf-8") as log:
                log.write(f"run {timestamp}: enhancement sigma {sigma}\n")
            say(f"Uploading run {timestamp} (config, logs, report, gis_data) and waiting for the filer ...")
            upload = backup_run(
                folder,
                settings=load_config(config),
                project_key=PROJECT_KEY,
                include=list(ARTIFACT_TYPES),
                timestamp=timestamp,
                config_path=config,
                subscribers=subscribers,
                journal=journal,
            )
            result.runs.append(
                DemoRun(timestamp, upload.files, upload.bytes, upload.archive_prefixes())
            )
            say(f"  filed {upload.files} files ({upload.bytes} bytes); "
                f"{len(upload.dropped)} left out by the extension filters")
        s3 = stack.client("s3")
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=stack.names.archive_bucket, Prefix=f"{PROJECT_KEY}/"
        ):
            result.keys.extend(obj["Key"] for obj in page.get("Contents", []))
        dropped_names = {Path(p).name for p in DROPPED_FILES}
        result.dropped_in_archive = [k for k in result.keys if Path(k).name in dropped_names]
    return result
