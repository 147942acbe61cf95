"""Windows Python uploads a run with non-ASCII names to the local stack on Linux, its output piped
as a scheduled task's would be, then downloads it back: every file byte-identical."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

from tests.windows.lane import PYTHON_VARIABLE, windows_path, wine_environment

PROJECT = "RMI25320"
#: Names a Windows pipe's code page (cp1252) partly lacks, a folder of them, a large file sent alone.
FILES = {
    "config/\u8a2d\u5b9a_config.yaml": b"schema_version: 1.2.0\n",
    "logs/\u00dcberblick_\u65e5\u672c\u8a9e.log": "gestartet \u2013 \u958b\u59cb\n".encode(),
    "logs/stra\u00dfe/\u00e9tape 2 (copie).txt": b"two\r\nlines\r\n",
    "logs/gro\u00df_\u5927\u304d\u3044.log": hashlib.sha256(b"seed").digest() * (300 * 1024),  # 9.4 MiB
    "report/\u00c5ngstr\u00f6m r\u00e9sum\u00e9.html": "<p>\u00c5</p>".encode(),
    "report/assets/\u56fe\u8868 \U0001f4c8.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
}


def windows(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """``artifact-backup`` run by the Windows Python, every standard handle a pipe."""
    python = os.environ[PYTHON_VARIABLE]
    env = {**wine_environment(), "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "PYTHONIOENCODING", "PYTHONUTF8"):
        env.pop(name, None)
    return subprocess.run(["wine", python, "-m", "artifact_backup", *argv], cwd=cwd, env=env, input=b"",
                          capture_output=True, timeout=300, check=False)


def test_a_run_with_non_ascii_names_goes_up_and_comes_back_identical(tmp_path, local_stack):
    project = tmp_path / "Projekte \u00fc\u65e5" / PROJECT
    for name, data in FILES.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    config = tmp_path / "config.yaml"
    config.write_text(f'project:\n  slug: "{PROJECT}"\n' + local_stack.config_block(), encoding="utf-8")

    up = windows(["upload", "--config", windows_path(config), "--folder", windows_path(project),
                  "--project-key", PROJECT, "--include", "config", "logs", "report", "--timestamp", "-v"],
                 tmp_path)
    out = up.stdout.decode("cp1252")  # what a pipe from Windows Python carries
    assert up.returncode == 0, up.stderr.decode("cp1252", "replace")
    assert out.startswith("Filed run 2")
    assert f"of {PROJECT}: 7 files" in out  # and the config file given, as config/config.yaml

    to = tmp_path / "back \u00e0 la maison"
    down = windows(["download", PROJECT, "latest", "--to", windows_path(to), "--config", windows_path(config),
                    "--json"], tmp_path)
    assert down.returncode == 0, down.stderr.decode("cp1252", "replace")
    document = json.loads(down.stdout.decode("utf-8"))  # exactly one UTF-8 document
    assert document["ok"] is True
    sent = {**FILES, "config/config.yaml": config.read_bytes()}
    assert sorted(f["file"] for f in document["result"]["files"]) == sorted(sent)
    assert {f["status"] for f in document["result"]["files"]} == {"downloaded"}

    back = {p.relative_to(to).as_posix(): p.read_bytes() for p in to.rglob("*") if p.is_file()}
    assert back == sent
