"""An interrupted upload: the client process is killed (SIGKILL) while pieces are on their way, then
the same command is run again. It resumes the same run, sends only what is missing (counted on the
wire by the proxy), and one complete run is filed.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.s3 import list_keys

from .support import (
    INJECTED,
    MiB,
    assert_filed_once,
    local_files,
    make_project,
    noise,
    write_settings,
)

REPO = Path(__file__).resolve().parents[2]
TS = "20251030_1200"
STAGING = "rmi-360-raw-staging"
PIECE_PUTS = rf"^(PUT|POST) /{STAGING}/incoming/P1/[0-9a-f]+/(packs|blobs)/"
#: Pieces let through before the rest are held, and the process killed.
SENT_BEFORE_KILL = 3


def command(config: Path, folder: Path, cache: Path) -> list[str]:
    return [sys.executable, "-m", "artifact_backup", "upload", "--config", str(config), "--folder",
            str(folder), "--project-key", "P1", "--include", "logs", "gis_data", "--custom-timestamp",
            TS, "--cache-dir", str(cache), "--json", "--wait-timeout", "120"]


def environment() -> dict[str, str]:
    paths = [str(REPO / p) for p in ("contract", "client", "lambdas")]
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")])
    return env


def test_killed_upload_resumes_sending_only_what_is_missing(tmp_path, stack, s3, client_proxy, make_filer,
                                                             running_worker):
    make_filer()
    folder = make_project(tmp_path)
    for i in range(6):  # more large files, so the run has many pieces to interrupt
        (folder / "gis_data" / f"tile_{i}.gpkg").write_bytes(noise(f"tile-{i}", int(0.4 * MiB)))
    # What the run has to send: every file's bytes once (identical large files travel as one blob).
    total = sum({hashlib.sha256(p.read_bytes()).hexdigest(): p.stat().st_size
                 for p in local_files(folder).values()}.values())
    write_settings(tmp_path, stack, client_proxy.endpoint_url)
    argv = command(tmp_path / "config.yaml", folder, tmp_path / "cache")

    held = client_proxy.inject("stall", PIECE_PUTS, times=None, skip=SENT_BEFORE_KILL)
    process = subprocess.Popen(argv, env=environment(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        assert client_proxy.wait_stalled(timeout=60), "the upload never reached its pieces"
        deadline = time.monotonic() + 60
        while sum(1 for e in client_proxy.exchanges if e.outcome == "200") < 1:
            assert time.monotonic() < deadline, "no piece was delivered before the hold"
            assert process.poll() is None
            client_proxy.wait_stalled(timeout=0.2)
        process.send_signal(signal.SIGKILL)
        INJECTED["clients killed"] += 1
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        client_proxy.release()
    assert process.returncode == -signal.SIGKILL
    assert held.hits >= 1
    # A piece whose body had fully arrived when the client died is still stored by S3: count it.
    assert client_proxy.wait_idle(timeout=60), "the proxy is still relaying the killed client's requests"
    first_bytes = client_proxy.body_bytes(PIECE_PUTS)
    staged_before = [k for k in list_keys(s3, STAGING, "incoming/P1/") if "/manifest.json" not in k]
    assert staged_before, "nothing reached staging before the kill"
    assert not any(k.endswith("/manifest.json") for k in list_keys(s3, STAGING, "incoming/P1/"))

    client_proxy.clear()
    done = subprocess.run(argv, env=environment(), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)["result"]
    second_bytes = client_proxy.body_bytes(PIECE_PUTS)
    assert result["status"] == "filed"
    assert result["resumed"] is True
    assert result["pieces_skipped"] == len(staged_before)
    # Only what was missing went again: less than the whole run, and with the first attempt's
    # delivered pieces, at least all of it.
    assert 0 < second_bytes < total
    assert result["bytes_sent"] < total
    assert first_bytes + second_bytes >= total
    assert_filed_once(s3, stack, folder, "P1", TS, result["run_id"])
