"""LocalStack as the embedded server: on 127.0.0.1 only, with a data directory of its own, and
gone with the stack however the stack ends (an exception, SIGTERM, or its parent killed outright),
leaving no process and no file behind. Runs where LocalStack is the backend (make test-localstack)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from artifact_backup.local import LocalSession
from tests.support.local import backend_under_test

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(backend_under_test() != "localstack",
                       reason="LocalStack's own life cycle: runs with ARTIFACT_BACKUP_S3_BACKEND=localstack "
                              "(make test-localstack)"),
]


def _gone(pid: int, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.2)
    return False


def test_it_listens_on_loopback_only_keeps_its_own_data_and_goes_with_an_exception():
    session = LocalSession(backend="localstack", run_worker=False)
    seen: dict[str, object] = {}
    with pytest.raises(RuntimeError, match="the caller failed"):
        _look_then_fail(session, seen)
    assert _gone(seen["pid"], 30), "LocalStack outlived the stack"
    assert not seen["data_dir"].exists()


def _look_then_fail(session: LocalSession, seen: dict) -> None:
    with session as stack:
        server = session.server
        assert server.data_dir is not None
        pid, data_dir = seen["pid"], seen["data_dir"] = server.pid, Path(server.data_dir)
        listening = [c.laddr for c in psutil.Process(pid).net_connections("inet")
                     if c.status == psutil.CONN_LISTEN]
        assert listening, "LocalStack listens nowhere"
        assert {address.ip for address in listening} == {"127.0.0.1"}, listening
        s3 = stack.client("s3")
        s3.put_object(Bucket=stack.names.archive_bucket, Key="k", Body=os.urandom(1024 * 1024))
        # Bodies past 512 KiB spill into a per-bucket folder of S3's store (as unnamed files).
        assert (data_dir / "s3" / stack.names.archive_bucket).is_dir(), "S3 stores its objects elsewhere"
        assert server.endpoint_url == stack.endpoint_url
        raise RuntimeError("the caller failed")


def _start_cli(tmp_path: Path) -> tuple[subprocess.Popen[str], int, Path]:
    log = tmp_path / "local.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "artifact_backup", "local", "--backend", "localstack", "--port", "0"],
        stdout=log.open("w"), stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )
    end = time.monotonic() + 120
    while "Ctrl-C" not in log.read_text() and time.monotonic() < end:
        assert process.poll() is None, log.read_text()
        time.sleep(0.2)
    children = [c for c in psutil.Process(process.pid).children()
                if "_localstack_main" in " ".join(c.cmdline())]
    assert len(children) == 1, log.read_text()
    cmdline = children[0].cmdline()
    return process, children[0].pid, Path(cmdline[cmdline.index("--data-dir") + 1])


def test_sigterm_to_the_command_stops_localstack_and_removes_its_data(tmp_path):
    process, child, data_dir = _start_cli(tmp_path)
    assert data_dir.is_dir()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert "stopped" in (tmp_path / "local.log").read_text()
    assert _gone(child, 30)
    assert not data_dir.exists()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
def test_localstack_stops_by_itself_when_its_parent_is_killed(tmp_path):
    process, child, data_dir = _start_cli(tmp_path)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert _gone(child, 60), "LocalStack was orphaned"
    assert not data_dir.exists()
