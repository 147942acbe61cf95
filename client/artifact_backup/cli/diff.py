"""``artifact-backup diff``: what changed between two runs, the config first."""

from __future__ import annotations

import argparse
from typing import Any

from ..exceptions import EXIT_OK
from ._archive import add_archive_options, open_reader, repeat_options, size_text
from ._console import Console, plural

DESCRIPTION = """\
Compare two runs of a project: first the config (a unified diff of each config file that changed,
the file the run was uploaded with first), then, per artifact type, the files added, removed and
changed (by SHA-256). Unchanged files are counted, not listed.

Only config files that differ are downloaded; everything else comes from the two run records.
"""

EPILOG = """\
Examples:
  artifact-backup diff RMI25320 20251030_0900 20251030_1430
  artifact-backup diff RMI25320 20251030_0900 latest
  artifact-backup diff RMI25320 20251030_0900 20251030_1430 --json | jq '.types.logs.changed'
"""


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "diff", parents=[common], help="what changed between two runs (config diff first)",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", metavar="PROJECT", help="the project key, e.g. RMI25320")
    parser.add_argument("run_a", metavar="RUN_A", help="the earlier run: YYYYMMDD_HHMM, 'latest' or a run id")
    parser.add_argument("run_b", metavar="RUN_B", help="the later run")
    add_archive_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    reader, _ = open_reader(args)
    result = reader.diff(args.project, args.run_a, args.run_b, restore_options=repeat_options(args))
    console.emit({"command": "diff", "bucket": reader.bucket, "result": result.to_dict()},
                 lambda: format_diff(result))
    return EXIT_OK


def format_diff(result: Any) -> str:
    a, b = result.run_a, result.run_b
    lines = [f"{result.project_key}: run {a} -> run {b}", ""]
    if not result.config:
        same = result.config_sha256_a == result.config_sha256_b
        lines.append("Config: unchanged" + (f" (sha256 {result.config_sha256_a})" if same and
                                            result.config_sha256_a else ""))
    else:
        lines.append("Config:")
        for change in result.config:
            label = f"config/{change.path}" + (" (the run's --config file)" if change.main else "")
            if change.diff is None:
                lines.append(f"  {label}: {change.status}; {change.note}")
            else:
                lines.append(change.diff.rstrip("\n"))
    lines.append("")
    grouped = result.changes_per_type()
    only = {**{t: (b, a, n) for t, n in result.only_in_a.items()},
            **{t: (a, b, n) for t, n in result.only_in_b.items()}}
    types = sorted(set(grouped) | set(result.unchanged) | set(only))
    if result.identical:
        lines.append("Files: identical (same files, same checksums)")
    else:
        lines.append("Files:")
    for type_name in types:
        if type_name in only:
            missing_in, held_in, total = only[type_name]
            lines.append(f"  {type_name}: not in run {missing_in} ({plural(total.files, 'file')}, "
                         f"{size_text(total.bytes)} in run {held_in}); not compared")
            continue
        groups = grouped.get(type_name, {"added": [], "removed": [], "changed": []})
        counts = ", ".join(f"{len(groups[s])} {s}" for s in ("added", "removed", "changed"))
        lines.append(f"  {type_name}: {counts}, {result.unchanged.get(type_name, 0)} unchanged")
        for c in groups["added"]:
            lines.append(f"    + {c.type}/{c.path}  ({size_text(c.size_b or 0)})")
        for c in groups["removed"]:
            lines.append(f"    - {c.type}/{c.path}  ({size_text(c.size_a or 0)})")
        for c in groups["changed"]:
            lines.append(f"    ~ {c.type}/{c.path}  ({size_change(c.size_a or 0, c.size_b or 0)})")
    return "\n".join(lines)


def size_change(size_a: int, size_b: int) -> str:
    """``49.7 KiB -> 52.1 KiB``; the exact byte counts when rounding would hide the change."""
    text_a, text_b = size_text(size_a), size_text(size_b)
    if size_a == size_b:
        return f"{text_a}, same size"
    if text_a == text_b:
        return f"{text_a} -> {text_b}: {size_a:,} -> {size_b:,} bytes"
    return f"{text_a} -> {text_b}"
