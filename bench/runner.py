"""The benchmark run: datasets, the tools measured on them, and the order they run in.

Every measurement starts from an empty server (moto's reset), with fresh buckets, so no tool
finds another's objects and the server's memory does not grow through the run. Repetitions are
interleaved: each repetition runs every scenario's tool groups, in an order rotated by one group
per repetition, so slow drift of the machine (page cache, thermal, other load) spreads over all
tools instead of favouring whichever ran first.

A *group* is a tool and what depends on it: our upload is followed by the filer filing that
very upload; s5cmd's upload is followed by s5cmd's server-side copy of those objects.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import SOURCE_DIRS
from .data import Dataset, MiB, read_through
from .measure import Measurement, Meter, ToolFailedError
from .peers import (
    GROUP_AWS,
    GROUP_BOTO3,
    GROUP_CRT,
    GROUP_RCLONE,
    GROUP_S5CMD,
    PeerGroups,
)
from .server import CountingServer
from .verify_group import GROUP_VERIFY, VerifyGroups
from .warm import warm_server

#: Python that runs the client's command line exactly as its console script does.
_CLI_BOOT = "import sys; from artifact_backup.cli import main; sys.exit(main())"
_REGION = "us-east-1"

# Tool names, as they appear in the results.
OURS_UPLOAD = "ours upload"
OURS_FILER = "ours filer"
OURS_E2E = "ours upload+filing"

#: Group names: a tool and what depends on it.
GROUP_OURS = "ours"
GROUP_E2E = "ours-e2e"


@dataclass(frozen=True)
class Scenario:
    """A dataset and the tool groups measured on it."""

    name: str
    dataset: Dataset
    #: The artifact types our client is told to back up: exactly the files in the dataset.
    include: tuple[str, ...]
    groups: tuple[str, ...]
    #: For a one-file dataset, the file the single-file tools (aws s3 cp, boto3) upload.
    single_file: Path | None = None
    #: ``("files", n)`` or ``("bytes", n)`` for a point of a scaling series.
    series: tuple[str, int] | None = None


def tool_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every tool gets: local credentials, no profile, no user config files.

    Nothing from the developer's shell may point a tool at a real account or change its
    defaults (a ``~/.aws/config`` with ``max_concurrent_requests`` would skew ``aws s3``).
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in ("S3_ENDPOINT_URL", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    }
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": _REGION,
            "AWS_REGION": _REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "PYTHONPATH": os.pathsep.join((str(Path(SOURCE_DIRS[0]).parent), *SOURCE_DIRS)),
        }
    )
    env.update(extra or {})
    return env


@dataclass
class RunLog:
    """Everything measured, and every failure, in the order it happened."""

    measurements: list[Measurement] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


class Bench(PeerGroups, VerifyGroups):
    """Runs the tool groups against one server; each group starts from an empty server."""

    def __init__(
        self,
        server: CountingServer,
        workdir: Path,
        timeout_s: float,
        progress: Callable[[str], None] = print,
    ) -> None:
        self.server = server
        self.endpoint = server.endpoint_url or ""
        self.workdir = workdir
        self.meter = Meter(server, timeout_s)
        self.timeout_s = timeout_s
        self.env = tool_environment()
        self.progress = progress
        self.log = RunLog()
        self._s3: Any = None

    # -- helpers ---------------------------------------------------------------------------------

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            import boto3
            from botocore.config import Config

            self._s3 = boto3.client(
                "s3",
                endpoint_url=self.endpoint,
                region_name=_REGION,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(max_pool_connections=32),
            )
        return self._s3

    def _fresh(self) -> None:
        """An empty server: the previous group's buckets, objects and queues are gone."""
        self.server.reset()

    def _bucket(self, name: str) -> str:
        self.s3.create_bucket(Bucket=name)
        return name

    def _count(self, bucket: str, prefix: str = "") -> int:
        total = 0
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            total += page.get("KeyCount", 0)
        return total

    def _expect(self, tool: str, scenario: Scenario, bucket: str, prefix: str, expected: int) -> None:
        """A fast tool that silently skipped files would win; check every file arrived."""
        found = self._count(bucket, prefix)
        if found != expected:
            raise ToolFailedError(
                f"{tool} on {scenario.name}: {found} objects in s3://{bucket}/{prefix}, expected {expected}"
            )

    def _record(self, m: Measurement) -> Measurement:
        self.log.measurements.append(m)
        self.progress(
            f"  {m.scenario:<14} {m.tool:<20} rep {m.rep}: {m.wall_s:7.2f} s wall, {m.cpu_s:6.2f} s cpu, "
            f"{m.peak_rss_mb:6.0f} MB, {m.requests:6d} req"
        )
        return m

    def _tmp(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.workdir))

    # -- our client and filer --------------------------------------------------------------------

    def _stack(self, label: str) -> Any:
        from artifact_backup.local import LocalStackNames, provision

        names = LocalStackNames(
            archive_bucket=f"bench-{label}-archive",
            staging_bucket=f"bench-{label}-staging",
            queue=f"bench-{label}-filer",
            dead_letter_queue=f"bench-{label}-filer-dlq",
        )
        return provision(self.endpoint, names)

    def _client_config(self, scenario: Scenario, stack: Any, folder: Path) -> Path:
        """The project's config.yaml with the ``aws:`` block that points at this group's stack."""
        own = scenario.dataset.project / "config.yaml"
        text = own.read_text() if own.exists() else ""
        path = folder / "config.yaml"
        path.write_text(text + stack.config_block())
        return path

    def _fresh_client(self, scenario: Scenario, stack_label: str, folder_label: str | None = None
                      ) -> tuple[Any, Path, Path]:
        """A fresh server with our stack on it, a folder, and the client's config pointing there."""
        self._fresh()
        stack = self._stack(stack_label)
        folder = self._tmp(folder_label or stack_label)
        return stack, folder, self._client_config(scenario, stack, folder)

    def ours_argv(self, scenario: Scenario, config: Path, wait: bool) -> list[str]:
        argv = [
            sys.executable,
            "-c",
            _CLI_BOOT,
            "upload",
            "--config",
            str(config),
            "--folder",
            str(scenario.dataset.project),
            "--project-key",
            scenario.dataset.project.name,
            "--include",
            *scenario.include,
            "--timestamp",
            "--cache-dir",
            str(config.parent / "cache"),
        ]
        if not wait:
            argv.append("--no-wait")
        return argv

    def _client_env(self, folder: Path) -> dict[str, str]:
        """A cache of its own per run: the client must not find (and resume) a previous run."""
        return {**self.env, "XDG_CACHE_HOME": str(folder / "cache")}

    def _sqs_event(self, stack: Any, deadline_s: float = 30.0) -> dict[str, Any]:
        """The SQS batch event Lambda would build from the manifest's notification."""
        sqs = stack.client("sqs")
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            messages = sqs.receive_message(
                QueueUrl=stack.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2, AttributeNames=["All"]
            ).get("Messages", [])
            if messages:
                from artifact_backup.local.worker import sqs_batch_event

                return sqs_batch_event(messages, stack.queue_arn, stack.region)
        raise ToolFailedError("no manifest notification reached the filing queue")

    def _archived(self, stack: Any, scenario: Scenario, tool: str) -> None:
        """Every file of the run is in the archive (plus the run's claim and record)."""
        project = scenario.dataset.project.name
        files = self._count(stack.names.archive_bucket, f"{project}/") - self._count(
            stack.names.archive_bucket, f"{project}/_runs/"
        )
        if files != scenario.dataset.files:
            raise ToolFailedError(
                f"{tool} on {scenario.name}: {files} files archived, expected {scenario.dataset.files}"
            )

    def group_ours(self, scenario: Scenario, rep: int) -> tuple[Any, Path]:
        """Our upload without waiting, then the filer filing that upload, each in its own process.

        Returns the stack and the client's config, for a scenario that goes on with the filed run."""
        stack, folder, config = self._fresh_client(scenario, f"ours{rep}", "ours")
        upload = self.meter.measure(
            scenario.name,
            OURS_UPLOAD,
            rep,
            self.ours_argv(scenario, config, wait=False),
            self._client_env(folder),
        )
        self._record(upload)
        event = self._sqs_event(stack)
        event_path = folder / "event.json"
        event_path.write_text(json.dumps(event))
        filer_env = {**self.env, **stack.filer_environment()}
        filer = self.meter.measure(
            scenario.name,
            OURS_FILER,
            rep,
            [sys.executable, "-m", "bench._filer_invoke", str(event_path), "256"],
            filer_env,
        )
        self._record(filer)
        self._archived(stack, scenario, OURS_FILER)
        return stack, config

    def group_e2e(self, scenario: Scenario, rep: int) -> None:
        """Our upload waiting for its receipt, with the filer serving the queue in another process."""
        stack, folder, config = self._fresh_client(scenario, f"e2e{rep}", "e2e")
        stack_path = folder / "stack.json"
        stack_path.write_text(
            json.dumps(
                {
                    "endpoint_url": stack.endpoint_url,
                    "region": stack.region,
                    "names": vars(stack.names),
                    "queue_url": stack.queue_url,
                    "queue_arn": stack.queue_arn,
                    "dead_letter_queue_url": stack.dead_letter_queue_url,
                }
            )
        )
        worker_out = folder / "worker.out"
        with worker_out.open("w+b") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "bench._filer_worker", str(stack_path)],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**self.env, **stack.filer_environment()},
            )
            try:
                self._wait_ready(worker_out, worker)
                m = self.meter.measure(
                    scenario.name,
                    OURS_E2E,
                    rep,
                    self.ours_argv(scenario, config, wait=True),
                    self._client_env(folder),
                )
            finally:
                assert worker.stdin is not None
                worker.stdin.close()
                try:
                    _, status, usage = os.wait4(worker.pid, 0)
                    worker.returncode = os.waitstatus_to_exitcode(status)
                except ChildProcessError:
                    usage = None
        if usage is not None:
            m.extra.update(
                {"filer_cpu_s": usage.ru_utime + usage.ru_stime, "filer_peak_rss_mb": usage.ru_maxrss / 1024}
            )
        self._record(m)
        self._archived(stack, scenario, OURS_E2E)

    def _wait_ready(self, path: Path, worker: Any, timeout_s: float = 60.0) -> None:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if b"ready" in path.read_bytes():
                return
            if worker.poll() is not None:
                raise ToolFailedError("filer worker exited: " + path.read_text(errors="replace")[-2000:])
            time.sleep(0.05)
        worker.kill()
        raise ToolFailedError("filer worker did not start")

    # -- the run ---------------------------------------------------------------------------------

    def run_group(self, group: str, scenario: Scenario, rep: int) -> None:
        runner = {
            GROUP_OURS: self.group_ours,
            GROUP_E2E: self.group_e2e,
            GROUP_AWS: self.group_aws,
            GROUP_S5CMD: self.group_s5cmd,
            GROUP_BOTO3: self.group_boto3,
            GROUP_RCLONE: self.group_rclone,
            GROUP_CRT: self.group_crt,
        }[group]
        try:
            runner(scenario, rep)
        except ToolFailedError as exc:
            self.progress(f"  {scenario.name} {group} rep {rep}: FAILED: {exc}")
            self.log.errors.append({"scenario": scenario.name, "group": group, "rep": rep, "error": str(exc)})

    def warm(self, scenario: Scenario) -> None:
        """An untimed upload of the scenario's largest files, then an empty server (bench.warm)."""
        self._fresh()
        sent = warm_server(self.s3, self._bucket("bench-warm"), scenario.dataset.project)
        self._fresh()
        self.progress(f"{scenario.name}: server warmed, untimed ({sent.files} files, "
                      f"{sent.bytes / MiB:.0f} MiB)")

    def run(self, scenarios: Sequence[Scenario], reps: int) -> RunLog:
        """Every scenario's groups, repetitions interleaved; then the verify scenarios, each on one
        filed run (see :mod:`bench.verify_group`)."""
        interleaved = [s for s in scenarios if GROUP_VERIFY not in s.groups]
        for rep in range(reps):
            self.progress(f"repetition {rep + 1}/{reps}")
            for scenario in interleaved:
                if rep == 0:
                    # Right before the scenario's first group: a warm-up at the start of a full
                    # run, with the other scenarios run after it, left the penalty in place.
                    self.warm(scenario)
                read_through(scenario.dataset.project)
                groups = list(scenario.groups)
                shift = rep % len(groups)
                for group in groups[shift:] + groups[:shift]:
                    self.run_group(group, scenario, rep)
        for scenario in scenarios:
            if GROUP_VERIFY in scenario.groups:
                self.progress(f"{scenario.name}: filing once, then verify {reps} time(s)")
                self.run_verify(scenario, reps, _CLI_BOOT)
        self._fresh()
        return self.log
