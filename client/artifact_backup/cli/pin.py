"""``artifact-backup pin``: protect an important run from expiration, with a note saying why."""

from __future__ import annotations

import argparse
from typing import Any

from artifact_contract import RETENTION_PINNED, RETENTION_STANDARD, TAG_RETENTION

from ..exceptions import EXIT_OK
from ._archive import add_archive_options, open_reader
from ._console import Console, plural

DESCRIPTION = """\
Pin a run: tag every one of its objects artifact-backup:retention=pinned (keeping
artifact-backup:managed=true), so the archive's expiration rules never delete it, and store the note
beside the run record ({project}/_runs/{ts}/pin.json), where 'artifact-backup runs' shows it.
Pinned runs still move to Glacier with the rest: pinning is about keeping, not about speed.
When the bucket has Object Lock, every object of the run (and its record) also gets a legal hold:
its current version can be neither deleted nor overwritten until 'unpin' lifts the hold.
"""

EPILOG = """\
Examples:
  artifact-backup pin RMI25320 20251030_1430 --note "Final production run - DO NOT DELETE"
  artifact-backup unpin RMI25320 20251030_1430 --note "superseded by 20251031_1015"
"""


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "pin", parents=[common], help="protect a run from expiration, with a note",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_arguments(parser, note_required=True)
    parser.set_defaults(run=run)


def add_run_arguments(parser: argparse.ArgumentParser, *, note_required: bool) -> None:
    parser.add_argument("project", metavar="PROJECT", help="the project key, e.g. RMI25320")
    parser.add_argument("run_name", metavar="RUN", help="YYYYMMDD_HHMM, 'latest' or a run id")
    parser.add_argument("--note", required=note_required, default="", metavar="TEXT",
                        help="why (shown by 'runs')" if note_required else "why (optional)")
    add_archive_options(parser)


def run(args: argparse.Namespace, console: Console) -> int:
    reader, _ = open_reader(args)
    result = reader.pin(args.project, args.run_name, args.note)
    return report(result, console, "pin")


def report(result: Any, console: Console, command: str) -> int:
    for key in result.missing:
        console.warn(f"{key} is no longer in the archive: not tagged")
    if result.object_lock is None:
        console.warn("the bucket's Object Lock setting could not be read (access denied): no legal hold "
                     "was placed or lifted; the reader policy needs s3:GetBucketObjectLockConfiguration")
    console.emit({"command": command, "result": result.to_dict()}, lambda: format_pin(result))
    return EXIT_OK


def format_pin(result: Any) -> str:
    value = RETENTION_PINNED if result.pinned else RETENTION_STANDARD
    verb = "Pinned" if result.pinned else "Unpinned"
    line = (f"{verb} run {result.run} of {result.project_key}: {plural(len(result.tagged), 'object')} "
            f"tagged {TAG_RETENTION}={value}")
    if result.object_lock:
        line += f"; legal hold {'ON' if result.pinned else 'OFF'} on {plural(len(result.held), 'object')}"
    if result.note.note:
        line += f"; note: {result.note.note}"
    if not result.pinned:
        line += ". The archive's expiration rules apply to it again."
    return line
