"""``artifact-backup restore``: bring a run's files back from Glacier so they can be downloaded."""

from __future__ import annotations

import argparse
from typing import Any

from artifact_contract import ARTIFACT_TYPES

from .. import shell
from ..exceptions import EXIT_OK
from ._archive import add_archive_options, open_reader, repeat_options
from ._console import Console, plural

TIERS = ("Standard", "Bulk", "Expedited")

DESCRIPTION = """\
Start restores of a run's files that the lifecycle rule has moved to Glacier or Deep Archive (after
90 days by default), so that 'artifact-backup download' can read them. A restored copy stays readable
for --days days; the tier trades speed for price: Expedited 1-5 minutes (not from Deep Archive),
Standard 3-5 hours (12 from Deep Archive), Bulk 5-12 hours (48 from Deep Archive), the cheapest.

Running it again is harmless and reports progress: files are 'started', 'in-progress', 'restored'
(readable now), or 'not-archived' (never needed a restore).
"""

EPILOG = """\
Examples:
  artifact-backup restore RMI25320 20251030_1430
  artifact-backup restore RMI25320 20251030_1430 --include logs --tier Bulk --days 3
  artifact-backup restore RMI25320 20251030_1430 --file config/config.yaml --tier Expedited
  artifact-backup restore RMI25320 all --include config      # every run's config

Exit codes: 0 ok (restores started or already done), 8 no such run or file, 5 S3 failure.
"""


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "restore", parents=[common], help="restore a run's files from Glacier for download",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", metavar="PROJECT", help="the project key, e.g. RMI25320")
    parser.add_argument("run_name", metavar="RUN", help="YYYYMMDD_HHMM, 'latest', a run id, or 'all'")
    parser.add_argument("--include", nargs="+", choices=list(ARTIFACT_TYPES), metavar="TYPE",
                        help=f"only these artifact types: {', '.join(ARTIFACT_TYPES)} (default: all)")
    parser.add_argument("--file", action="append", metavar="PATH", dest="files",
                        help="only this file, as TYPE/PATH; repeatable")
    parser.add_argument("--tier", choices=TIERS, default="Standard",
                        help="retrieval tier (default: %(default)s)")
    parser.add_argument("--days", type=int, default=7, metavar="N",
                        help="days the restored copy stays readable (default: %(default)s)")
    add_archive_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    reader, _ = open_reader(args)
    result = reader.restore(args.project, args.run_name, include=args.include, files=args.files,
                            tier=args.tier, days=args.days)
    console.emit({"command": "restore", "bucket": reader.bucket, "result": result.to_dict()},
                 lambda: format_restore(result, download_command(args)))
    return EXIT_OK


def download_command(args: argparse.Namespace) -> str:
    argv = ["artifact-backup", "download", args.project, args.run_name]
    if args.include:
        argv += ["--include", *args.include]
    for name in args.files or ():
        argv += ["--file", name]
    return shell.join([*argv, "--to", "DIR", *repeat_options(args)])


def format_restore(result: Any, download: str) -> str:
    from ..archive.restore import TIER_TIMES

    started, running = result.count("started"), result.count("in-progress")
    restored, plain = result.count("restored"), result.count("not-archived")
    missing = result.count("missing")
    if not result.files:
        return f"Nothing to restore: run {result.run} has no file of the chosen types."
    lines = []
    if started or running:
        lines.append(
            f"Restoring {plural(started + running, 'file')} of {result.project_key} run {result.run} "
            f"({started} started now, {running} already in progress; tier {result.tier}, usually "
            f"{TIER_TIMES[result.tier]}; readable for {plural(result.days, 'day')} once done)."
        )
    if restored or plain:
        lines.append(f"{plural(restored + plain, 'file')} can be downloaded now "
                     f"({restored} restored, {plain} not in Glacier).")
    if missing:
        lines.append(f"{plural(missing, 'file')} no longer in the archive (expired or deleted).")
    if result.ready:
        lines.append(f"Download: {download}")
    else:
        lines.append(f"Run this command again to see progress; then: {download}")
    return "\n".join(lines)
