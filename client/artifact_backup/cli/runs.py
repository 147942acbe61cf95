"""``artifact-backup runs``: every run of a project, read from the run records."""

from __future__ import annotations

import argparse
from typing import Any

from ..exceptions import EXIT_OK
from ._archive import add_archive_options, open_reader, shorten, size_text, storage_text, table
from ._console import Console, plural

DESCRIPTION = """\
List every run of a project: its timestamp (or run id, for an upload without one), artifact types,
file count, size, where its files are stored now (STANDARD, GLACIER...), and whether it is pinned,
with the pin note.

Runs are read from the run records the filer writes last ({project}/_runs/): a run is listed once it
is complete, and the project's other folders (e.g. reels/) are never listed.
"""

EPILOG = """\
Examples:
  artifact-backup runs RMI25320
  artifact-backup runs RMI25320 --bucket rmi-360-raw          # without a config.yaml
  artifact-backup runs RMI25320 --json | jq -r '.runs[] | select(.pinned) | .run'
  artifact-backup runs RMI25320 --no-storage                  # records only: fewest requests
"""


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "runs", parents=[common], help="list a project's runs (types, files, size, storage, pins)",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", metavar="PROJECT", help="the project key, e.g. RMI25320")
    parser.add_argument("--no-storage", action="store_true",
                        help="skip looking up where each run's files are stored (one LIST per type and run)")
    add_archive_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    reader, _ = open_reader(args)
    listing = reader.runs(args.project, storage=not args.no_storage)
    for warning in listing.warnings:
        console.warn(warning)
    console.emit({"command": "runs", "bucket": reader.bucket, **listing.to_dict()},
                 lambda: format_runs(listing, reader.bucket))
    return EXIT_OK


def pin_text(summary: Any, width: int = 60) -> str:
    if not summary.pinned:
        return "-"
    return f"yes: {shorten(summary.pin.note, width)}" if summary.pin.note else "yes"


def types_text(summary: Any) -> str:
    """The run's types; a timestamp filed by several uploads says how many."""
    text = ",".join(summary.types)
    return f"{text} ({len(summary.uploads)} uploads)" if len(summary.uploads) > 1 else text


def format_runs(listing: Any, bucket: str) -> str:
    if not listing.runs:
        return (f"No runs of {listing.project_key} in s3://{bucket} "
                f"(nothing under {listing.project_key}/_runs/).")
    rows = [[s.label, types_text(s), len(s.record.files), size_text(s.record.bytes),
             storage_text(s.storage), pin_text(s)] for s in listing.runs]
    total = sum(s.record.bytes for s in listing.runs)
    head = (f"{plural(len(listing.runs), 'run')} of {listing.project_key} in s3://{bucket}, "
            f"{size_text(total)} in all:")
    text = head + "\n" + table(["RUN", "TYPES", "FILES", "SIZE", "STORAGE", "PINNED"], rows, right=(2, 3))
    return text + "".join("\n" + line for line in superseded_lines(listing.runs))


def superseded_lines(summaries: Any) -> list[str]:
    """Which runs' files later uploads without a timestamp wrote again, and which runs those are."""
    lines = []
    for s in summaries:
        if not s.superseded:
            continue
        later = sorted({x.by_run_id for x in s.superseded.values()})
        unnamed = sum(1 for x in s.superseded.values() if not x.readable)
        lines.append(f"{s.label}: {plural(len(s.superseded), 'file')} superseded by run "
                     + ", ".join(later)
                     + ("" if not unnamed else
                        f" ({unnamed} not readable through this run: its record predates version ids)"))
    if lines:
        lines.insert(0, "Superseded by later uploads without a timestamp (each run's own copies are kept):")
    return lines
