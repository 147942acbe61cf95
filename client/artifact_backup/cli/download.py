"""``artifact-backup download``: a run (some types, one file, or every run) back onto disk, verified."""

from __future__ import annotations

import argparse
from typing import Any

from artifact_contract import ARTIFACT_TYPES

from ..exceptions import EXIT_OK
from ._archive import add_archive_options, close_progress, open_reader, repeat_options, size_text
from ._console import Console, plural

DESCRIPTION = """\
Download a run's files into DIR as {type}/{path} (the project folder's own layout), each checked
against the SHA-256 in the run record: a file is written under a temporary name and renamed only once
its checksum matches; a mismatch is an error naming the file (exit 9), and nothing is left under its
name. Files already in DIR with the right checksum are not downloaded again.

Files in Glacier or Deep Archive are reported with the 'artifact-backup restore' command that makes
them readable (exit 10); the rest of the run is downloaded. RUN 'all' downloads every run, each into
DIR/{run}/.

Names this system cannot hold stop the download before anything is written, listing the files: on
Windows the device names (CON, NUL, AUX, COM1, LPT1 ..., with any extension), the characters
<>:"|?* and a trailing dot or space; on a folder that does not tell case apart (Windows, macOS, found
by a probe file elsewhere) two names that differ only in case; a name over 255 characters or bytes.
--safe-names writes such files under the safe names listed instead, and says which.
"""

EPILOG = """\
Examples:
  # a whole run
  artifact-backup download RMI25320 20251030_1430 --to ./RMI25320_20251030_1430
  # the logs of one run (aws s3 sync s3://rmi-360-raw/RMI25320/logs/20251030_1430/ ./downloaded_logs/)
  artifact-backup download RMI25320 20251030_1430 --include logs --to ./downloaded_logs
  # all logs of the project, one folder per run
  artifact-backup download RMI25320 all --include logs --to ./all_logs
  # one file: ./config/config.yaml
  artifact-backup download RMI25320 20251030_1430 --file config/config.yaml --to .
  # the newest run's report
  artifact-backup download RMI25320 latest --include report --to ./report

Exit codes: 0 ok, 4 names this system cannot hold or a file that cannot be written (another
program has it open), 8 no such run or file, 9 checksum mismatch, 10 restore from Glacier needed,
5 S3 failure.
"""


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "download", parents=[common], help="download a run (or some types, one file) and verify it",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", metavar="PROJECT", help="the project key, e.g. RMI25320")
    parser.add_argument("run_name", metavar="RUN", help="YYYYMMDD_HHMM, 'latest', a run id, or 'all'")
    parser.add_argument("--to", required=True, metavar="DIR", dest="destination",
                        help="the folder to download into (created if needed)")
    parser.add_argument("--include", nargs="+", choices=list(ARTIFACT_TYPES), metavar="TYPE",
                        help=f"only these artifact types: {', '.join(ARTIFACT_TYPES)} (default: all)")
    parser.add_argument("--file", action="append", metavar="PATH", dest="files",
                        help="only this file, as TYPE/PATH (e.g. config/config.yaml); repeatable")
    parser.add_argument("--safe-names", action="store_true",
                        help="write files whose names this system cannot hold under safe names "
                             "(listed in the output) instead of stopping")
    add_archive_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    reader, _ = open_reader(args, console, progress=True)
    try:
        result = reader.download(args.project, args.run_name, args.destination, include=args.include,
                                 files=args.files, restore_options=repeat_options(args),
                                 safe_names=args.safe_names)
    finally:
        close_progress(reader)
    console.emit({"command": "download", "bucket": reader.bucket, "result": result.to_dict()},
                 lambda: format_download(result, console.verbose))
    return EXIT_OK


def format_download(result: Any, verbose: int = 0) -> str:
    downloaded, present = result.count("downloaded"), result.count("present")
    if not result.files:
        return f"Nothing to download: run {result.run} has no file of the chosen types."
    line = (f"Downloaded {plural(downloaded, 'file')} ({size_text(result.bytes_downloaded)}) of "
            f"{result.project_key} run {result.run} to {result.destination}, each verified against its "
            f"SHA-256")
    if present:
        line += f"; {plural(present, 'file')} already there and intact"
    lines = [line + "."]
    renamed = result.renamed
    if renamed:
        lines.append(f"{plural(len(renamed), 'file')} saved under another name (this system cannot hold "
                     "their own):")
        lines += [f"  {f.run}  {f.name} -> {f.renamed.safe_name}  ({f.renamed.problem})" for f in renamed]
    if verbose:
        lines += [f"  {f.status:10}  {f.local_path}  {size_text(f.file.size)}" for f in result.files]
    return "\n".join(lines)
