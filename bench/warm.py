"""What runs untimed before anything is measured: every tool started once (:func:`warm_up`), and
an upload of each scenario's largest files (:func:`warm_server`), so that no tool pays for a cold
start of its own or for the server's first large upload.

A fresh moto server spends about twice the CPU on the first gigabytes it receives as on the same
upload later (`--only gis --reps 5`: 53 s of server CPU for our upload in the first repetition,
24.5-29.2 s in the four others; boto3's CRT, later in the same repetition, took 22.2 s against
19.0-20.3 s). Why was not established. Whichever group came first in the first repetition paid
for it, and the scenarios list ours first; in a warmed GIS-only run the first repetition's upload
took 19.9 s. The warm-up sends the largest files, capped in count so a 200,000-file scenario stays
quick; the server is emptied afterwards like before any group. It runs right before the scenario's
first repetition: in a full run that warmed every scenario at its start, our GIS upload, first in
the first repetition, still cost the server 43 s against 23-26 s in the others.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import SOURCE_DIRS
from .executables import executable
from .measure import run_child
from .peers import rclone_executable, s5cmd_executable

#: At most this many files are sent, the largest first.
WARM_FILES = 64


@dataclass(frozen=True)
class Warmed:
    """What the warm-up sent."""

    files: int
    bytes: int


def largest_files(folder: Path, limit: int = WARM_FILES) -> list[tuple[int, Path]]:
    """Up to ``limit`` of the folder's files, largest first, with their sizes."""
    sized = [(p.stat().st_size, p) for p in folder.rglob("*") if p.is_file()]
    sized.sort(key=lambda item: (-item[0], item[1]))
    return sized[:limit]


def warm_server(s3: Any, bucket: str, folder: Path, limit: int = WARM_FILES) -> Warmed:
    """Upload the largest files of ``folder`` to ``bucket`` through s3transfer (multipart, 10
    requests at a time), as the measured tools upload them; keys are the files' relative paths."""
    from boto3.s3.transfer import TransferConfig, create_transfer_manager

    chosen = largest_files(folder, limit)
    with create_transfer_manager(s3, TransferConfig(max_concurrency=10)) as manager:
        futures = [manager.upload(str(path), bucket, path.relative_to(folder).as_posix())
                   for _, path in chosen]
        for future in futures:
            future.result()
    return Warmed(len(chosen), sum(size for size, _ in chosen))


def warm_up(env: dict[str, str], timeout_s: float = 120.0) -> None:
    """Start every tool once, untimed: the first start of an interpreter or binary reads it from disk.

    Our sources are compiled to bytecode first, as ``pip install`` does for every installed tool
    (awscli and boto3 included): a shell with ``PYTHONDONTWRITEBYTECODE`` set would otherwise have
    our client recompile its modules on every start, a cost no installed copy pays.
    """
    run_child([sys.executable, "-m", "compileall", "-q", *SOURCE_DIRS], env, timeout_s)
    for argv in (
        [executable("aws"), "--version"],
        [s5cmd_executable(), "version"],
        [rclone_executable(), "version"],
        [sys.executable, "-c", "import awscrt.s3, s3transfer.crt"],
        [
            sys.executable,
            "-c",
            "import boto3, botocore.session; botocore.session.get_session().get_service_model('s3')",
        ],
        [sys.executable, "-c", "import artifact_backup.cli"],
        [sys.executable, "-c", "import artifact_filer.handler"],
    ):
        run_child(argv, env, timeout_s)
