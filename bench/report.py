"""Medians, ratios, the printed table and the JSON (the targets: :mod:`bench.targets_ours` and
:mod:`bench.targets_peers`; the Markdown: :mod:`bench.results_md`).

Ratios read "how many times ours": for uploads, a tool's wall time over our upload's (``10.0x``
means the tool took ten times as long); for filing, over our filer's.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .measure import Measurement
from .peers import AWS_CP, AWS_SYNC, BOTO3, CRT, RCLONE, S5CMD_COPY, S5CMD_CP
from .runner import OURS_E2E, OURS_FILER, OURS_UPLOAD
from .verify_group import OURS_VERIFY, OURS_VERIFY_DEEP

#: Display order of the tools in a scenario's table.
TOOL_ORDER = (OURS_UPLOAD, OURS_E2E, AWS_SYNC, AWS_CP, S5CMD_CP, BOTO3, RCLONE, CRT, OURS_FILER, S5CMD_COPY,
              OURS_VERIFY, OURS_VERIFY_DEEP)
_FILING = (OURS_FILER, S5CMD_COPY)
#: Rows about verifying read "how many times our default verify".
_VERIFYING = (OURS_VERIFY, OURS_VERIFY_DEEP)


def _median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def summarize(measurements: Sequence[Measurement]) -> dict[str, dict[str, dict[str, Any]]]:
    """``{scenario: {tool: medians}}`` over the repetitions."""
    grouped: dict[tuple[str, str], list[Measurement]] = {}
    for m in measurements:
        grouped.setdefault((m.scenario, m.tool), []).append(m)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for (scenario, tool), runs in grouped.items():
        row: dict[str, Any] = {
            "runs": len(runs),
            "wall_s": _median(m.wall_s for m in runs),
            "wall_s_min": min(m.wall_s for m in runs),
            "wall_s_max": max(m.wall_s for m in runs),
            "cpu_s": _median(m.cpu_s for m in runs),
            "peak_rss_mb": _median(m.peak_rss_mb for m in runs),
            "peak_rss_mb_max": max(m.peak_rss_mb for m in runs),
            "requests": _median(m.requests for m in runs),
            # None for results recorded before connections were counted.
            "connections": None
            if any(m.connections is None for m in runs)
            else _median(m.connections for m in runs),
            "bytes_sent": _median(m.bytes_sent for m in runs),
            "server_cpu_s": _median(m.server_cpu_s for m in runs),
        }
        for key in ("handler_s", "handler_cpu_s", "upload_s", "import_s"):
            values = [m.inner[key] for m in runs if key in m.inner]
            if values:
                row[key] = _median(values)
        for key in ("filer_cpu_s", "filer_peak_rss_mb"):
            values = [m.extra[key] for m in runs if key in m.extra]
            if values:
                row[key] = _median(values)
        out.setdefault(scenario, {})[tool] = row
    for rows in out.values():
        for tool, row in rows.items():
            reference = rows.get(
                OURS_FILER if tool in _FILING else OURS_VERIFY if tool in _VERIFYING else OURS_UPLOAD
            )
            row["ratio_vs_ours"] = row["wall_s"] / reference["wall_s"] if reference else None
    return out


# -- rendering ------------------------------------------------------------------------------------

_COLUMNS = (
    "tool",
    "wall s",
    "(min-max)",
    "vs ours",
    "cpu s",
    "peak RSS MB",
    "requests",
    "conns",
    "MB sent",
    "server cpu s",
)


def _rows(rows: dict[str, dict[str, Any]]) -> list[list[str]]:
    table = []
    for tool in sorted(rows, key=lambda t: TOOL_ORDER.index(t) if t in TOOL_ORDER else 99):
        r = rows[tool]
        wall = f"{r['wall_s']:.2f}"
        if "handler_s" in r:
            wall += f" (filing {r['handler_s']:.2f})"
        ratio = r.get("ratio_vs_ours")
        table.append(
            [
                tool,
                wall,
                f"{r['wall_s_min']:.2f}-{r['wall_s_max']:.2f}",
                f"{ratio:.2f}x" if ratio is not None else "-",
                f"{r['cpu_s']:.2f}",
                f"{r['peak_rss_mb']:.0f}",
                f"{r['requests']:.0f}",
                "-" if r.get("connections") is None else f"{r['connections']:.0f}",
                f"{r['bytes_sent'] / 1e6:.1f}",
                f"{r['server_cpu_s']:.2f}",
            ]
        )
    return table


def _text_table(header: Sequence[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def _md_table(header: Sequence[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _target_rows(results: dict[str, Any]) -> list[list[str]]:
    mark = {True: "met", False: "NOT MET", None: "n/a"}
    return [
        [t["name"], t["threshold"], t["measured"], mark[t["met"]], t["detail"]] for t in results["targets"]
    ]


def _dataset_line(results: dict[str, Any], scenario: str) -> str:
    d = results["datasets"].get(scenario)
    if not d:
        return scenario
    types = ", ".join(f"{k} {v}" for k, v in d["by_type"].items())
    return f"{scenario}: {d['files']} files, {d['bytes'] / 1e6:.1f} MB ({types})"


def text(results: dict[str, Any]) -> str:
    """The table printed at the end of a run."""
    parts = []
    for scenario, rows in results["summary"].items():
        parts.append(_dataset_line(results, scenario))
        parts.append(_text_table(_COLUMNS, _rows(rows)))
        parts.append("")
    parts.append("Targets")
    parts.append(_text_table(("target", "threshold", "measured", "", "detail"), _target_rows(results)))
    return "\n".join(parts)


def write(results: dict[str, Any], json_path: Path) -> None:
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
