"""``artifact-backup verify``: compare runs in the archive with their run records."""

from __future__ import annotations

import argparse
from typing import Any

from ..exceptions import EXIT_DEEP_NEEDED, EXIT_OK, EXIT_RESTORE_NEEDED, RunNotFoundError, VerifyFailedError
from ._archive import add_archive_options, open_reader, size_text, table
from ._console import Console, plural

DESCRIPTION = """\
Verify that the archive still holds exactly what a run's record says: every recorded file present,
with its recorded size and checksum, and nothing else in the run's folders. Without RUN, every run
of the project is verified.

By default each file is checked by one HEAD request, no byte read: its size, and the checksum S3
keeps for the object (it checks every upload against it) compared with the record: the CRC64NVME
the record names, or, for a record written before it named one, the SHA-256 where S3 holds one of
the whole object. Files in Glacier or Deep Archive are verified this way without a restore. A file
S3 holds another checksum for, or none, is reported, never passed.

--deep reads every file back and hashes it instead (a GET and a download per file); files in Glacier
or Deep Archive must be restored first.

RUN is the run's timestamp (YYYYMMDD_HHMM), 'latest', or the run id (or its first characters) of an
upload without a timestamp, as 'artifact-backup runs' lists them.

Exit status: 0 when everything matches; 9 when a file is missing, extra or different (or a run
record cannot be read); 10 when files in Glacier or Deep Archive could not be checked without a
restore; 11 when files recorded before full-object checksums could not be settled by S3's checksums
(verify --deep reads them).
"""

EPILOG = """\
Examples:
  artifact-backup verify RMI25320 20251030_1430
  artifact-backup verify RMI25320              # every run of the project
  artifact-backup verify RMI25320 latest --deep  # read and hash every byte
  artifact-backup verify RMI25320 latest --json | jq '.result.counts // .counts'
"""


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "verify", parents=[common],
        help="check runs in the archive against their records, by S3's checksums or (--deep) byte for byte",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", metavar="PROJECT", help="the project key, e.g. RMI25320")
    parser.add_argument("run_name", metavar="RUN", nargs="?", help="YYYYMMDD_HHMM, 'latest', or a run id "
                        "(default: every run of the project)")
    parser.add_argument("--deep", action="store_true",
                        help="read every file back and hash it, instead of comparing the checksums S3 "
                             "keeps (a GET and a download per file; Glacier needs a restore first)")
    add_archive_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    from ..archive.verify import verify

    reader, _ = open_reader(args)
    result = verify(reader.client, reader.bucket, args.project, args.run_name, deep=args.deep,
                    workers=reader.config.max_concurrency, chunk=reader.config.hash_chunksize)
    if not result.runs and not result.unreadable_records:
        raise RunNotFoundError(f"project {result.project_key} has no run in the archive",
                               hint=f"artifact-backup runs {result.project_key} lists the project's runs")
    data = {"command": "verify", **result.to_dict()}
    if result.problems:
        if not console.json:
            print(format_verify(result, console.verbose), file=console.stdout)
        counts = {k: v for k, v in result.counts().items() if v}
        settle = "" if args.deep else "; `verify --deep` reads a different file's bytes to settle it"
        raise VerifyFailedError(
            f"the archive differs from the run records of {result.project_key}: "
            + ", ".join(f"{n} {name}" for name, n in counts.items()),
            result=result,
            hint="a missing or different file can be uploaded again from the project folder; an extra "
                 "one was not written by the filer (see who wrote it in the bucket's access logs)" + settle,
        )
    console.emit(data, lambda: format_verify(result, console.verbose))
    return _unchecked_exit(result, args, console)


def _unchecked_exit(result: Any, args: argparse.Namespace, console: Console) -> int:
    """Files neither good nor bad: a restore first (exit 10), or a ``--deep`` reading (exit 11)."""
    needs = result.unchecked_needs()
    named = f"{result.project_key} {args.run_name}" if args.run_name else result.project_key
    if needs["restore"]:
        then = "verify again" if args.deep else f"artifact-backup verify {named} --deep"
        console.warn(f"{plural(needs['restore'], 'file')} in Glacier or Deep Archive could not be checked: "
                     f"artifact-backup restore {result.project_key} ... first, then {then}")
        return EXIT_RESTORE_NEEDED
    if needs["deep"]:
        console.warn(f"{plural(needs['deep'], 'file')} recorded before full-object checksums could not be "
                     f"settled by S3's checksums: artifact-backup verify {named} --deep reads them")
        return EXIT_DEEP_NEEDED
    return EXIT_OK


def requests_text(requests: dict[str, int]) -> str:
    """``14 requests: 12 HEAD, 2 LIST`` (kinds not made left out)."""
    total = sum(requests.values())
    kinds = ", ".join(f"{n} {kind}" for kind, n in requests.items() if n)
    return plural(total, "request") + (f": {kinds}" if kinds else "")


def _run_lines(check: Any, project_key: str, verbose: int) -> list[str]:
    state = "OK" if check.ok else "PROBLEMS" if check.problems else "NOT ALL CHECKED"
    how = (f"{size_text(check.bytes_read)} read" if check.mode == "deep"
           else "by S3's checksums" + "".join(f", {n} {by}" for by, n in sorted(check.verified_by.items())))
    lines = [f"Run {check.label} of {project_key}: {state} - {check.files_verified}/"
             f"{plural(check.files, 'file')} verified ({how}; {requests_text(check.requests)})"]
    if check.problems:
        rows = [(p.problem, p.key, p.detail) for p in check.problems]
        lines.append(table(("PROBLEM", "KEY", "DETAIL"), rows, indent="  "))
    for needs, label in (("restore", "restore first"), ("deep", "`verify --deep` reads them")):
        keys = [u for u in check.unchecked if u.get("needs", "restore") == needs]
        if not keys:
            continue
        what = "not checked" if needs == "restore" else "not settled by S3's checksums"
        if verbose:
            lines.append(f"  {what} ({len(keys)}, {label}):")
            lines.extend(f"    {u['key']}: {u['detail']}" for u in keys)
        else:
            lines.append(f"  {what} ({len(keys)}, {label}): " + ", ".join(u["key"] for u in keys[:5])
                         + (" ..." if len(keys) > 5 else ""))
    if check.superseded:
        lines.append(f"  superseded ({len(check.superseded)}): later uploads without a timestamp "
                     "wrote these files again")
        lines.extend(f"    {s.text()}" for s in check.superseded)
    if verbose and check.extras_note:
        lines.append(f"  note: {check.extras_note}")
    return lines


def format_verify(result: Any, verbose: int = 0) -> str:
    lines = []
    for check in result.runs:
        lines.extend(_run_lines(check, result.project_key, verbose))
    for p in result.unreadable_records:
        lines.append(f"Run record {p.key} cannot be read: {p.detail}")
    how = "read and hashed (--deep)" if result.mode == "deep" else "checked by S3's checksums"
    total = (f"{plural(len(result.runs), 'run')}, {plural(result.files_verified, 'file')} verified "
             f"of {result.files}, {how}: {size_text(result.bytes_read)} read, "
             f"{requests_text(result.requests)} to s3://{result.bucket}")
    if result.problems:
        counts = ", ".join(f"{n} {name}" for name, n in result.counts().items() if n)
        lines.append(f"{total}; {counts}")
    elif result.unchecked:
        lines.append(f"{total}; {plural(result.unchecked, 'file')} not checked, the rest matches "
                     "its run record")
    else:
        lines.append(f"{total}; everything matches its run record")
    return "\n".join(lines)
