"""``artifact-backup demo``: the whole pipeline on this machine, no AWS account needed."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from ..exceptions import EXIT_ERROR, EXIT_OK
from ._console import Console, human_bytes
from ._signals import sigterm_interrupts
from .local import add_backend_option

DESCRIPTION = """\
Start an embedded S3 server on 127.0.0.1 with the staging and archive buckets, the filing queue and
the filer, write a sample project like the user guide's RMI25320 (config, logs, a report with
assets, GIS data with a geodatabase, and files the extension filters must drop), back it up twice
as two timestamped runs, and print the archive as the user guide draws it.
"""

EPILOG = """\
Examples:
  artifact-backup demo
  artifact-backup demo --dir ./demo-project --keep
  artifact-backup demo --json
  artifact-backup demo --backend localstack    # on LocalStack (make localstack installs it)
"""


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "demo",
        parents=[common],
        help="run the whole pipeline on an embedded S3 server with a sample project",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--dir", metavar="PATH", help="where to write the sample project (default: a temp dir)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the sample project afterwards")
    add_backend_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    from ..local.demo import run_demo

    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="artifact-backup-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    progress = console.progress()
    try:
        with sigterm_interrupts():
            result = run_demo(workdir, say=console.say, subscribers=[progress] if progress else (),
                              backend=args.backend)
    finally:
        if progress:
            progress.close()
        if not args.keep and not args.dir:
            shutil.rmtree(workdir, ignore_errors=True)

    def text() -> str:
        lines = ["", result.tree, ""]
        lines.append("Run records (written last; a run is visible only once complete):")
        lines += [f"  s3://{result.archive_bucket}/{key}" for key in result.run_records]
        total = sum(r.bytes for r in result.runs)
        lines.append(
            f"{len(result.runs)} runs filed, {sum(r.files for r in result.runs)} files, "
            f"{human_bytes(total)}; files dropped by the extension filters found in the archive: "
            f"{len(result.dropped_in_archive)}"
        )
        if args.keep or args.dir:
            lines.append(f"The sample project is in {result.folder}")
        return "\n".join(lines)

    console.emit(
        {
            "command": "demo",
            "archive_bucket": result.archive_bucket,
            "project_key": result.project_key,
            "runs": [vars(r) for r in result.runs],
            "keys": result.keys,
            "dropped_in_archive": result.dropped_in_archive,
        },
        text,
    )
    return EXIT_ERROR if result.dropped_in_archive else EXIT_OK
