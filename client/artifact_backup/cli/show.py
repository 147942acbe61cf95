"""``artifact-backup show``: one run's files, checksums, config hash and uploader."""

from __future__ import annotations

import argparse
from typing import Any

from ..exceptions import EXIT_OK
from ._archive import add_archive_options, open_reader, size_text, storage_text, table
from ._console import Console, plural

DESCRIPTION = """\
Show one run: every file with its size, SHA-256 and storage class, the SHA-256 of the config file the
run was uploaded with, who uploaded it from where (client version, host), and its pin note.

RUN is the run's timestamp (YYYYMMDD_HHMM), 'latest', or the run id (or its first characters) of an
upload without a timestamp, as 'artifact-backup runs' lists them. A timestamp's artifact types may
have been uploaded separately (logs first, the report later): they are shown as one run, with the
upload that brought each type.
"""

EPILOG = """\
Examples:
  artifact-backup show RMI25320 20251030_1430
  artifact-backup show RMI25320 latest
  artifact-backup show RMI25320 20251030_1430 --json | jq -r '.file_list[] | "\\(.sha256)  \\(.path)"'
"""


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "show", parents=[common], help="show a run's files, checksums, config hash and uploader",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", metavar="PROJECT", help="the project key, e.g. RMI25320")
    parser.add_argument("run_name", metavar="RUN", help="YYYYMMDD_HHMM, 'latest', or a run id")
    add_archive_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    reader, _ = open_reader(args)
    summary = reader.run(args.project, args.run_name)
    console.emit({"command": "show", "bucket": reader.bucket, **summary.to_dict(files=True)},
                 lambda: format_show(summary, reader.bucket))
    return EXIT_OK


def uploader_text(uploader: dict[str, str]) -> str:
    if not uploader:
        return "(not recorded)"
    parts = [uploader.get("client", "unknown client")]
    if uploader.get("host"):
        parts.append(f"on host {uploader['host']}")
    if uploader.get("python"):
        parts.append(f"(Python {uploader['python']})")
    extra = {k: v for k, v in uploader.items() if k not in ("client", "host", "python")}
    parts += [f"{k}={v}" for k, v in sorted(extra.items())]
    return " ".join(parts)


def format_show(summary: Any, bucket: str) -> str:
    record = summary.record
    per_type = ", ".join(f"{t} {n}" for t, n in summary.files_per_type().items())
    lines = [
        f"Run {summary.label} of {record.project_key} (run id {record.run_id})",
        f"  filed:       {record.created_at} in s3://{bucket}",
        f"  uploaded by: {uploader_text(dict(record.uploader))}",
        f"  config:      sha256 {record.config_sha256 or '(no config file recorded)'}",
        f"  files:       {plural(len(record.files), 'file')}, {size_text(record.bytes)} ({per_type})",
        f"  storage:     {storage_text(summary.storage)}",
    ]
    if len(summary.uploads) > 1:  # types joined the timestamp in several uploads
        lines.append(f"  uploads:     {len(summary.uploads)} at this timestamp, each with its own types:")
        lines += [f"    {u.run_id}  {','.join(u.types)}  ({plural(u.files, 'file')}, filed {u.created_at})"
                  for u in summary.uploads]
    if summary.pin:
        state = "pinned" if summary.pin.pinned else "not pinned (unpinned)"
        by = summary.pin.by.get("host", "")
        lines.append(f"  retention:   {state} on {summary.pin.at}{' from ' + by if by else ''}"
                     + (f": {summary.pin.note}" if summary.pin.note else ""))
    else:
        lines.append("  retention:   standard (not pinned)")
    rows = []
    for f in record.files:
        is_main = f.type == "config" and f.sha256 == record.config_sha256
        main = " *" if is_main else ""
        rows.append([f"{f.type}/{f.path}{main}", size_text(f.size), summary.storage_class_of(f) or "-",
                     f.sha256])
    lines.append("")
    lines.append(table(["FILE", "SIZE", "STORAGE", "SHA256"], rows, right=(1,)))
    if any(r[0].endswith(" *") for r in rows):
        lines.append("* the config file the run was uploaded with (--config)")
    if summary.superseded:
        lines.append("Superseded by later uploads without a timestamp:")
        lines.extend(f"  {summary.superseded[k].text()}" for k in sorted(summary.superseded))
    return "\n".join(lines)
