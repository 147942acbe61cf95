"""``artifact-backup cost``: what a project's archive costs now and after the Glacier transition."""

from __future__ import annotations

import argparse
from typing import Any

from ..exceptions import EXIT_OK
from ._archive import add_archive_options, money, open_reader, size_text, table
from ._console import Console, plural

DESCRIPTION = """\
Estimate a project's archive costs: storage per storage class and per artifact type, per month, now
and once the lifecycle rule has moved the artifacts to Glacier (after 90 days), and the one-off
request charges: the transition itself, downloading everything, restoring everything.

Prices default to the user guide's (S3 Standard $0.023/GB-month, download $0.09/GB) and Amazon S3's
published US East prices for the rest (2025); set your own under cost: in config.yaml. Objects under
128 KiB are not transitioned (S3's default), and each object in Glacier carries 40 KiB of overhead.
"""

EPILOG = """\
Examples:
  artifact-backup cost RMI25320
  artifact-backup cost RMI25320 --json | jq '.after_transition.total.monthly'

config.yaml:
  cost:
    storage_gb_month: {STANDARD: 0.025, GLACIER: 0.0045}   # e.g. eu-west-3
    download_gb: 0.09
    transition_days: 90
"""


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "cost", parents=[common], help="storage and request costs of a project, now and after Glacier",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", metavar="PROJECT", help="the project key, e.g. RMI25320")
    add_archive_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    reader, settings = open_reader(args)
    report = reader.cost(args.project, settings.cost)
    console.emit({"command": "cost", "bucket": reader.bucket, "result": report.to_dict()},
                 lambda: format_cost(report, reader.bucket))
    return EXIT_OK


def _snapshot(snapshot: Any, currency: str) -> list[str]:
    rows = [[name, line.objects, size_text(line.bytes), money(line.monthly, currency)]
            for name, line in sorted(snapshot.by_class.items())]
    rows.append(["", "", "", ""])
    rows += [[f"{name}", line.objects, size_text(line.bytes), money(line.monthly, currency)]
             for name, line in sorted(snapshot.by_type.items())]
    rows.append(["total", snapshot.total.objects, size_text(snapshot.total.bytes),
                 money(snapshot.total.monthly, currency)])
    return table(["CLASS / TYPE", "OBJECTS", "SIZE", "PER MONTH"], rows, right=(1, 2, 3),
                 indent="  ").splitlines()


def format_cost(report: Any, bucket: str) -> str:
    p = report.prices
    c = p.currency
    lines = [f"Cost of {report.project_key} in s3://{bucket}: {plural(report.runs, 'run')}, "
             f"{plural(report.now.total.objects, 'object')}, {size_text(report.now.total.bytes)}", ""]
    lines.append("Now:")
    lines += _snapshot(report.now, c)
    lines.append("")
    lines.append(f"After the transition to {p.transition_storage_class} ({p.transition_days} days; "
                 f"artifacts of {size_text(p.min_transition_bytes)} or more):")
    lines += _snapshot(report.after, c)
    lines.append("")
    t, d, r = report.transition, report.download_all, report.restore_all
    lines.append("One-off requests:")
    lines.append(f"  transition to {p.transition_storage_class}: {plural(t.requests, 'request')}, "
                 f"{money(t.cost, c)}")
    lines.append(f"  download everything: {plural(d.requests, 'GET')}, {size_text(d.bytes)} out, "
                 f"{money(d.cost, c)}")
    lines.append(f"  restore everything after the transition (Standard tier): "
                 f"{plural(r.requests, 'request')}, {size_text(r.bytes)}, {money(r.cost, c)}")
    if report.missing_files:
        gone = plural(report.missing_files, "recorded file")
        lines.append(f"({gone} no longer in the archive, not counted)")
    lines.append("")
    lines.append(f"Prices: {p.source}")
    return "\n".join(lines)
