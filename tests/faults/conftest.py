"""Fixtures of the fault suite: its own embedded S3 server (reset per test), fault proxies in front
of it for the client and for the filer, filers built the way the Lambda builds them, and a worker
that hands them the queue's batches.

botocore's retry logic runs unchanged; only its back-off pauses are scaled down
(:data:`BACKOFF_SCALE`), so a test meeting a burst of failures waits milliseconds, not seconds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.retries.standard import ExponentialBackoff

from artifact_backup.local import EmbeddedServer, LocalFilerWorker, LocalStack
from artifact_contract import manifest_key
from artifact_filer import Filer, StepHook
from artifact_filer import handler as filer_handler
from tests.support.faults import FaultProxy
from tests.support.local import reset_stack, server_under_test, swapped_filer

from .support import INJECTED, archive_state, backup, drain, make_project, restage, staging_objects

pytestmark = pytest.mark.integration

#: botocore's jittered back-off, scaled: the retries still happen, in the same number.
BACKOFF_SCALE = 0.02
#: The filer's tuning in these tests: blobs above 1 MiB take the multipart copy path.
FILER_TUNING = {"concurrency": 8, "multipart_copy_threshold_bytes": 1024 * 1024,
                "multipart_copy_chunk_bytes": 5 * 1024 * 1024}


@pytest.fixture(autouse=True)
def short_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    original = ExponentialBackoff.delay_amount

    def scaled(self: ExponentialBackoff, context: Any) -> float:
        return float(original(self, context)) * BACKOFF_SCALE

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", scaled)


@pytest.fixture(scope="session")
def server() -> Iterator[EmbeddedServer]:
    with server_under_test() as s3_server:
        yield s3_server


@pytest.fixture
def stack(server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch,
          isolated_cache: Any) -> Iterator[LocalStack]:
    """The server wiped and provisioned as the CDK stack would be; the filer's environment set."""
    local = reset_stack(server)
    for name, value in local.filer_environment("WARNING").items():
        if name != "AWS_ENDPOINT_URL":
            monkeypatch.setenv(name, value)
    with swapped_filer():
        yield local


@pytest.fixture
def s3(stack: LocalStack) -> Any:
    return stack.client("s3")


@pytest.fixture
def client_proxy(server: EmbeddedServer) -> Iterator[FaultProxy]:
    with FaultProxy(server.endpoint_url) as proxy:
        yield proxy
        INJECTED["S3 faults on the wire"] += proxy.faults_injected()


@pytest.fixture
def filer_proxy(server: EmbeddedServer) -> Iterator[FaultProxy]:
    with FaultProxy(server.endpoint_url) as proxy:
        yield proxy
        INJECTED["S3 faults on the wire"] += proxy.faults_injected()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The suite's figures, for docs/reliability.md."""
    if any(INJECTED.values()):
        figures = ", ".join(f"{name}: {count}" for name, count in INJECTED.items())
        terminalreporter.write_line(f"fault suite: {figures}")


MakeFiler = Callable[..., Filer]


@pytest.fixture
def make_filer(stack: LocalStack, filer_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> MakeFiler:
    """A filer as ``handler.build_filer`` makes it (retry mode, pool, timeouts), with an ``on_step``
    hook; ``install`` makes the Lambda handler use it. It reaches S3 through ``filer_proxy`` (with no
    rules, the proxy only answers a conditional copy as S3 would), or at ``endpoint``."""

    def make(endpoint: str | None = None, on_step: StepHook | None = None, install: bool = True,
             **tuning: Any) -> Filer:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint or filer_proxy.endpoint_url)
        built = filer_handler.build_filer()
        # The client reads AWS_ENDPOINT_URL too (it outranks config.yaml): only the filer may see it.
        monkeypatch.delenv("AWS_ENDPOINT_URL")
        config = dataclasses.replace(built.config, on_step=on_step, **{**FILER_TUNING, **tuning})
        filer = Filer(built.client, staging_bucket=built.staging_bucket,
                      archive_bucket=built.archive_bucket, config=config, logger=built.log,
                      putter=built.putter, continuer=built.continuer)
        if install:
            filer_handler.reset_filer(filer)
        return filer

    return make


@pytest.fixture
def worker(stack: LocalStack) -> LocalFilerWorker:
    """The event source mapping, driven by the test (``poll_once``/``drain``); a failed message is
    visible again at once."""
    return LocalFilerWorker(stack, handler=filer_handler.handler, wait_seconds=0, retry_delay_seconds=0)


@pytest.fixture
def running_worker(stack: LocalStack) -> Iterator[LocalFilerWorker]:
    """The worker in its own thread, for clients that wait for their receipt."""
    running = LocalFilerWorker(stack, handler=filer_handler.handler, wait_seconds=1,
                               retry_delay_seconds=0).start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def staged(server: EmbeddedServer,
           tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, bytes]]:
    """One run as the client stages it: its folder, run id and staging objects (staged once, put
    back byte-identical with ``restage`` by each test that files it)."""
    where = tmp_path_factory.mktemp("crash")
    stack = reset_stack(server)
    folder = make_project(where)
    result = backup(where, stack, folder, "P1", wait=False)
    objects = staging_objects(stack.client("s3"), stack)
    assert manifest_key("P1", result.run_id) in objects
    return folder, result.run_id, objects


_reference: dict[str, Any] = {}


@pytest.fixture
def undisturbed(staged: tuple[Path, str, dict[str, bytes]], server: EmbeddedServer, stack: LocalStack,
                s3: Any, make_filer: MakeFiler, worker: LocalFilerWorker) -> dict[str, Any]:
    """The archive state an undisturbed filing of the staged run leaves (computed once)."""
    if "state" not in _reference:
        restage(s3, stack, staged[2])
        make_filer()
        drain(worker)
        _reference["state"] = archive_state(s3, stack)
        reset_stack(server)
    return _reference["state"]
