"""``artifact-backup unpin``: hand a pinned run back to the standard retention rules."""

from __future__ import annotations

import argparse

from ._console import Console
from .pin import add_run_arguments, open_reader, report

DESCRIPTION = """\
Unpin a run: tag every one of its objects artifact-backup:retention=standard again (keeping
artifact-backup:managed=true), so the archive's expiration rules apply to it, and record the change
(with an optional note) in {project}/_runs/{ts}/pin.json. When the bucket has Object Lock, the
legal holds 'pin' placed are lifted (the bucket's default retention still applies).
"""

EPILOG = """\
Examples:
  artifact-backup unpin RMI25320 20251030_1430
  artifact-backup unpin RMI25320 20251030_1430 --note "superseded by 20251031_1015"
"""


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "unpin", parents=[common], help="let a pinned run expire again under the standard rules",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_arguments(parser, note_required=False)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    reader, _ = open_reader(args)
    result = reader.unpin(args.project, args.run_name, args.note)
    return report(result, console, "unpin")
