"""``artifact-backup upload``: the user guide's ``upload_to_s3.py``, with the same flags."""

from __future__ import annotations

import argparse
from typing import Any

from artifact_contract import ARTIFACT_TYPES, DEFAULT_ARTIFACT_TYPES

from ..exceptions import EXIT_OK
from ._console import Console, human_bytes, load_settings, plural
from ._words import run_words

DESCRIPTION = """\
Upload a run's artifacts: collect each type's files from the project folder (keeping the extensions
the type allows), send them to the staging bucket, and wait until the filer has put them in the
archive, s3://{s3_bucket_raw}/{project_key}/{type}/{YYYYMMDD_HHMM}/...

Each type's files are taken from {folder}/{type}/ (or orchestrator.artifact_paths); 'config' also
takes the --config file itself. An interrupted upload resumes when the same command is run again.
"""

EPILOG = """\
Examples:
  # Upload logs from a completed run (with timestamp)
  %(prog)s --config config.yaml --folder D:/Process360_Data/projects/RMI25320 \\
      --project-key RMI25320 --include logs --timestamp

  # Upload multiple artifact types at once
  %(prog)s --config config.yaml --folder D:/Process360_Data/projects/RMI25320 \\
      --project-key RMI25320 --include config logs report --timestamp

  # Upload with custom timestamp
  %(prog)s --config config.yaml --folder D:/Process360_Data/projects/RMI25320 \\
      --project-key RMI25320 --include report --custom-timestamp 20251030_1200

  # Upload single folder type without timestamp
  %(prog)s --config config.yaml --folder D:/Process360_Data/projects/RMI25320/config \\
      --project-key RMI25320 --folder-type config

  # See what would be sent, file by file, without sending anything
  %(prog)s --config config.yaml --folder ./RMI25320 --include logs report --dry-run -v
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    types = list(ARTIFACT_TYPES)
    parser.add_argument(
        "--config",
        default="config.yaml",
        metavar="PATH",
        help="the workflow's config.yaml (default: %(default)s)",
    )
    parser.add_argument("--folder", required=True, metavar="PATH", help="the project folder (or, with "
                        "--folder-type, one type's folder)")
    parser.add_argument("--project-key", metavar="KEY", help="archive project folder (default: project.slug)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument(
        "--include",
        nargs="+",
        choices=types,
        metavar="TYPE",
        help=f"artifact types to upload: {', '.join(types)} "
        f"(default: orchestrator.artifact_types, else {' '.join(DEFAULT_ARTIFACT_TYPES)})",
    )
    what.add_argument(
        "--folder-type", choices=types, metavar="TYPE", help="upload --folder itself as this type"
    )
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--timestamp", action="store_true", help="file the run under the current YYYYMMDD_HHMM")
    when.add_argument("--custom-timestamp", metavar="YYYYMMDD_HHMM", help="file the run under this timestamp")
    parser.add_argument("--no-wait", action="store_true", help="return once the run is committed to staging")
    parser.add_argument(
        "--wait-timeout", type=float, metavar="SECONDS", help="how long to wait for the filer (default: 900)"
    )
    parser.add_argument("--dry-run", action="store_true", help="show what would be sent; send nothing")
    parser.add_argument(
        "--no-skip-unchanged",
        dest="skip_unchanged",
        action="store_false",
        default=None,
        help="send every large file, even one the archive already holds unchanged "
        "(default: aws.transfer.skip_unchanged, true)",
    )
    parser.add_argument("--cache-dir", metavar="PATH", help="where resume journals are kept")


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "upload",
        parents=[common],
        help="upload a run's artifacts to S3 (the guide's upload_to_s3.py)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    from ..journal import Journal
    from ..upload import BackupRequest, Uploader

    settings = load_settings(args)
    if not settings.upload_artifacts_to_s3:
        console.warn(switched_off_note(settings, args.dry_run))
    progress = None if args.dry_run else console.progress()  # a dry run sends nothing to follow
    journal = Journal(args.cache_dir) if args.cache_dir else None
    uploader = Uploader(settings, subscribers=[progress] if progress else (), journal=journal)
    timestamp: bool | str = args.custom_timestamp if args.custom_timestamp else bool(args.timestamp)
    request = BackupRequest(
        folder=args.folder,
        project_key=args.project_key,
        include=args.include,
        folder_type=args.folder_type,
        timestamp=timestamp,
        config_path=args.config,
    )
    try:
        result = uploader.backup(
            request, wait=not args.no_wait, dry_run=args.dry_run, wait_timeout=args.wait_timeout,
            skip_unchanged=args.skip_unchanged,
        )
    finally:
        if progress:
            progress.close()
    for warning in result.warnings:
        console.warn(warning)
    console.emit({"command": "upload", "result": result.to_dict()}, lambda: format_result(result, console))
    return EXIT_OK


#: Files left out for a reason other than the extension filter shown without -v.
_OTHER_SHOWN = 10


def switched_off_note(settings: Any, dry_run: bool) -> str:
    """Said before a manual upload whose config turns the workflow's uploads off: the user asked
    for this one, so it goes ahead, but the switch may not be what they think it is."""
    where = f" in {settings.config_path}" if settings.config_path else ""
    goes = "would go ahead" if dry_run else "goes ahead"
    return (f"orchestrator.upload_artifacts_to_s3 is not true{where}, so the workflow uploads nothing after "
            f"its runs; this upload was asked for explicitly and {goes}")


def _dropped_lines(result: Any, verbose: int) -> list[str]:
    """Files the extension filter left out are counted (-v lists them); anything left out for
    another reason (a broken link, a FIFO, a link to a folder) is named: the user expected it."""
    from ..collect import EXTENSION_FILTERED

    filtered = [d for d in result.dropped if d.reason == EXTENSION_FILTERED]
    other = [d for d in result.dropped if d.reason != EXTENSION_FILTERED]
    lines: list[str] = []
    if other:
        shown = other if verbose else other[:_OTHER_SHOWN]
        lines.append(f"{plural(len(other), 'file')} left out, not by the extension filter:")
        lines += [f"  {d.type}/{d.path}  ({d.reason})" for d in shown]
        if len(shown) < len(other):
            lines.append(f"  and {len(other) - len(shown)} more (-v lists them)")
    if filtered and not verbose:
        lines.append(f"{plural(len(filtered), 'file')} left out by the extension filter (-v lists them)")
    elif filtered:
        lines.append(f"left out by the extension filter ({len(filtered)}):")
        lines += [f"  {d.type}/{d.path}  ({d.reason})" for d in filtered]
    return lines


def format_result(result: Any, console: Console) -> str:
    size = human_bytes(result.bytes)
    per_type = ", ".join(f"{t} {n}" for t, n in result.files_per_type.items())
    lines: list[str] = []
    if result.status == "dry-run":
        stamp = result.timestamp or "(no timestamp)"
        lines.append(f"Dry run, nothing sent. Would upload {plural(result.files, 'file')} ({size}) "
                     f"of {result.project_key}, run {stamp}:")
        lines.append(f"  files per type: {per_type}")
        plan = result.plan
        packs = plan.packs if plan else ()
        blobs = plan.blobs if plan else ()
        lines.append(
            f"  pieces: {plural(len(packs), 'pack')} ({sum(len(p) for p in packs)} small files), "
            f"{plural(len(blobs), 'large file')} sent alone"
        )
        lines.append(f"  to staging: s3://{result.staging_bucket}/incoming/{result.project_key}/")
        lines.append("  to be filed under:")
        lines += [f"    {url}" for url in result.archive_urls()]
        if console.verbose and plan:
            for i, pack in enumerate(packs, 1):
                lines.append(f"  pack {i} ({human_bytes(sum(f.size for f in pack))}):")
                lines += [f"    {f.member_name}  {human_bytes(f.size)}" for f in pack]
            for f in blobs:
                lines.append(f"  alone: {f.member_name}  {human_bytes(f.size)}")
        lines += ["  " + line for line in _dropped_lines(result, console.verbose)]
        return "\n".join(lines)

    resumed = " (resumed)" if result.resumed else ""
    if result.status == "committed":
        lines.append(
            f"Committed run {result.run_id} of {result.project_key}{resumed}: "
            f"{plural(result.files, 'file')}, {size}; not waiting for the filer (--no-wait)."
        )
        lines.append("It will be filed under:")
    elif result.already_filed:
        lines.append(
            f"Already filed: {run_words(result.timestamp, result.filed_run_id)} of {result.project_key} "
            f"holds these very files ({plural(result.files, 'file')}, {size}; {per_type}), filed by run "
            f"{result.filed_run_id}. Nothing new was written."
        )
    else:
        lines.append(
            f"Filed {run_words(result.timestamp, result.run_id)} of {result.project_key}{resumed}: "
            f"{plural(result.files, 'file')}, {size} ({per_type})"
        )
    lines += [f"  {url}" for url in result.archive_urls()]
    if result.files_reused and not result.already_filed:  # nothing of this upload was written
        lines.append(
            f"  {plural(result.files_reused, 'large file')} ({human_bytes(result.bytes_reused)}) unchanged "
            "since an earlier run: copied in the archive, not sent"
        )
    if result.resent:
        lines.append("  an earlier copy of an unchanged file was no longer usable: the run was sent in full")
    if console.verbose:
        lines.append(
            f"run id {result.run_id}; pieces sent {result.pieces_sent}, already in staging "
            f"{result.pieces_skipped}; {human_bytes(result.bytes_sent)} sent in {result.elapsed:.1f} s"
        )
    lines += _dropped_lines(result, console.verbose)
    return "\n".join(lines)
