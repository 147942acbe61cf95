"""``artifact-backup verify``: re-read runs from the archive and compare them with their run records."""

from __future__ import annotations

import argparse
from typing import Any

from ..exceptions import EXIT_OK, EXIT_RESTORE_NEEDED, RunNotFoundError, VerifyFailedError
from ._archive import add_archive_options, open_reader, size_text, table
from ._console import Console, plural

DESCRIPTION = """\
Verify that the archive still holds exactly what a run's record says: every recorded file present,
with its recorded size and SHA-256 (each object is read back in full and hashed), and nothing else
in the run's folders. Without RUN, every run of the project is verified.

RUN is the run's timestamp (YYYYMMDD_HHMM), 'latest', or the run id (or its first characters) of an
upload without a timestamp, as 'artifact-backup runs' lists them.

Exit status: 0 when everything matches, 9 when a file is missing, extra or different (or a run
record cannot be read), 10 when some files are in Glacier or Deep Archive and could not be read.
"""

EPILOG = """\
Examples:
  artifact-backup verify RMI25320 20251030_1430
  artifact-backup verify RMI25320              # every run of the project
  artifact-backup verify RMI25320 latest --json | jq '.result.counts // .counts'
"""


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "verify", parents=[common], help="check runs in the archive against their records, byte for byte",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", metavar="PROJECT", help="the project key, e.g. RMI25320")
    parser.add_argument("run_name", metavar="RUN", nargs="?", help="YYYYMMDD_HHMM, 'latest', or a run id "
                        "(default: every run of the project)")
    add_archive_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    from ..archive.verify import verify

    reader, _ = open_reader(args)
    result = verify(reader.client, reader.bucket, args.project, args.run_name,
                    workers=reader.config.max_concurrency, chunk=reader.config.hash_chunksize)
    if not result.runs and not result.unreadable_records:
        raise RunNotFoundError(f"project {result.project_key} has no run in the archive",
                               hint=f"artifact-backup runs {result.project_key} lists the project's runs")
    data = {"command": "verify", **result.to_dict()}
    if result.problems:
        if not console.json:
            print(format_verify(result, console.verbose), file=console.stdout)
        counts = {k: v for k, v in result.counts().items() if v}
        raise VerifyFailedError(
            f"the archive differs from the run records of {result.project_key}: "
            + ", ".join(f"{n} {name}" for name, n in counts.items()),
            result=result,
            hint="a missing or different file can be uploaded again from the project folder; an extra "
                 "one was not written by the filer (see who wrote it in the bucket's access logs)",
        )
    console.emit(data, lambda: format_verify(result, console.verbose))
    if result.unchecked:
        console.warn(f"{plural(result.unchecked, 'file')} in Glacier or Deep Archive could not be read: "
                     f"artifact-backup restore {result.project_key} ... first, then verify again")
        return EXIT_RESTORE_NEEDED
    return EXIT_OK


def format_verify(result: Any, verbose: int = 0) -> str:
    lines = []
    for check in result.runs:
        state = "OK" if check.ok else "PROBLEMS"
        lines.append(f"Run {check.label} of {result.project_key}: {state} - "
                     f"{check.files_verified}/{plural(check.files, 'file')} verified "
                     f"({size_text(check.bytes_read)} read)")
        if check.problems:
            rows = [(p.problem, p.key, p.detail) for p in check.problems]
            lines.append(table(("PROBLEM", "KEY", "DETAIL"), rows, indent="  "))
        if check.unchecked:
            lines.append(f"  not read ({len(check.unchecked)}, restore first): "
                         + ", ".join(u["key"] for u in check.unchecked[:5])
                         + (" ..." if len(check.unchecked) > 5 else ""))
        if check.superseded:
            lines.append(f"  superseded ({len(check.superseded)}): later uploads without a timestamp "
                         "wrote these files again")
            lines.extend(f"    {s.text()}" for s in check.superseded)
        if verbose and check.extras_note:
            lines.append(f"  note: {check.extras_note}")
    for p in result.unreadable_records:
        lines.append(f"Run record {p.key} cannot be read: {p.detail}")
    total = (f"{plural(len(result.runs), 'run')}, {plural(result.files_verified, 'file')} verified, "
             f"{size_text(result.bytes_read)} read from s3://{result.bucket}")
    if result.problems:
        counts = ", ".join(f"{n} {name}" for name, n in result.counts().items() if n)
        lines.append(f"{total}; {counts}")
    else:
        lines.append(f"{total}; everything matches its run record")
    return "\n".join(lines)
