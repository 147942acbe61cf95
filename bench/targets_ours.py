"""The targets on our own tools: upload speed against s5cmd and the AWS CLI, the filer against
s5cmd's server-side copy, memory on large runs and across the scaling series, cost linear in size.

Memory targets use the largest peak seen over the repetitions, not the median: a limit is broken by
the worst run. The targets against every peer on the large and GIS data are
:mod:`bench.targets_peers`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .peers import AWS_SYNC, BOTO3, S5CMD_COPY, S5CMD_CP
from .runner import OURS_FILER, OURS_UPLOAD

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


@dataclass(frozen=True)
class Target:
    """One target of the benchmark and how this run measured against it."""

    name: str
    threshold: str
    measured: str
    met: bool | None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def get(summary: dict[str, Any], scenario: str, tool: str) -> dict[str, Any] | None:
    return summary.get(scenario, {}).get(tool)


def missing(name: str, threshold: str, why: str) -> Target:
    return Target(name, threshold, "not measured", None, why)


def _speedup_target(summary: dict[str, Any], scenario: str, other: str) -> Target:
    name = f"{scenario}: ours upload >= 10x faster than {other}"
    ours, theirs = get(summary, scenario, OURS_UPLOAD), get(summary, scenario, other)
    if not ours or not theirs:
        return missing(name, ">= 10x", f"{OURS_UPLOAD} or {other} did not run")
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
    name = f"{_who(tool)} peak RSS within {FILES_RSS_RATIO}x from 1k to 200k files"
    threshold = f"<= {FILES_RSS_RATIO}x"
    points = dict(_series_points(summary, series, "files", tool))
    low, high = points.get(FILES_RSS_FROM), points.get(FILES_RSS_TO)
    if low is None or high is None:
        return missing(name, threshold, f"no {FILES_RSS_FROM}- and {FILES_RSS_TO}-file points")
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
        row = get(summary, scenario, tool)
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
    filer, copy = get(summary, scenario, OURS_FILER), get(summary, scenario, S5CMD_COPY)
    if not filer or not files or "handler_cpu_s" not in filer:
        return missing(name, f"<= {FILER_CPU_PER_FILE_MS} ms", "no filer run with its handler CPU")
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
    return [
        _speedup_target(summary, small, S5CMD_CP),
        _speedup_target(summary, small, AWS_SYNC),
        _requests_target(summary, small),
        _boto3_target(summary, large),
        _filing_target(summary, small),
        _cpu_per_file_target(summary, small, (files or {}).get(small)),
        *(_one_gb_rss_target(summary, one_gb, tool, limit)
          for tool, limit in ((OURS_UPLOAD, 120.0), (OURS_FILER, 256.0))),
        *(_flat_rss_target(summary, series, kind, tool)
          for kind in ("files", "bytes") for tool in (OURS_UPLOAD, OURS_FILER)),
        *(_files_rss_target(summary, series, tool) for tool in (OURS_UPLOAD, OURS_FILER)),
        *(_linear_cost_target(summary, series, kind, unit, tool)
          for kind, unit in (("files", "file"), ("bytes", "MiB")) for tool in (OURS_UPLOAD, OURS_FILER)),
    ]


def _who(tool: str) -> str:
    return "client" if tool == OURS_UPLOAD else "filer"


def _requests_target(summary: dict[str, Any], small: str) -> Target:
    """A small run travels in a few packs, not one request per file."""
    ours = get(summary, small, OURS_UPLOAD)
    name = f"{small}: ours upload sends <= 10 requests"
    if not ours:
        return missing(name, "<= 10", "ours upload did not run")
    return Target(name, "<= 10", f"{ours['requests']:.0f}", ours["requests"] <= 10, "counted at the server")


def _boto3_target(summary: dict[str, Any], large: str) -> Target:
    """Hashing a large file must cost its upload next to nothing over boto3's bare transfer."""
    ours, bare = get(summary, large, OURS_UPLOAD), get(summary, large, BOTO3)
    name = f"{large}: ours upload (hashing included) <= 1.1x boto3 upload_file"
    if not ours or not bare:
        return missing(name, "<= 1.1x", "ours upload or boto3 did not run")
    ratio = ours["wall_s"] / bare["wall_s"]
    return Target(name, "<= 1.1x", f"{ratio:.2f}x", ratio <= 1.1,
                  f"ours {ours['wall_s']:.2f} s vs boto3 {bare['wall_s']:.2f} s")


def _filing_target(summary: dict[str, Any], small: str) -> Target:
    """The filing itself (the handler: a warm Lambda pays no start-up) against s5cmd's copy."""
    filer, copy = get(summary, small, OURS_FILER), get(summary, small, S5CMD_COPY)
    name = f"{small}: filer filing <= s5cmd server-side copy"
    if not filer or not copy:
        return missing(name, "<= 1.0x", "filer or s5cmd copy did not run")
    handler = filer.get("handler_s", filer["wall_s"])
    return Target(
        name,
        "<= 1.0x",
        f"{handler / copy['wall_s']:.2f}x",
        handler <= copy["wall_s"],
        f"filing (handler) {handler:.2f} s, filer process incl. start-up {filer['wall_s']:.2f} s "
        f"({filer['wall_s'] / copy['wall_s']:.2f}x), s5cmd copy {copy['wall_s']:.2f} s",
    )


def _one_gb_rss_target(summary: dict[str, Any], one_gb: str | None, tool: str, limit: float) -> Target:
    name = f"{_who(tool)} peak RSS < {limit:.0f} MB on a 1 GB run"
    row = get(summary, one_gb, tool) if one_gb else None
    if not row:
        return missing(name, f"< {limit:.0f} MB", "no 1 GB run")
    peak = row["peak_rss_mb_max"]
    return Target(name, f"< {limit:.0f} MB", f"{peak:.0f} MB", peak < limit,
                  f"largest of {row['runs']} runs on {one_gb}")


def _flat_rss_target(summary: dict[str, Any], series: dict[str, list[tuple[int, str]]], kind: str,
                     tool: str) -> Target:
    points = _series_points(summary, series, kind, tool)
    peaks = [row["peak_rss_mb_max"] for _, row in points]
    name = f"{_who(tool)} peak RSS flat across the {kind} series"
    if len(peaks) < 2:
        return missing(name, f"max/min <= {FLAT_RSS_RATIO}", "no scaling series")
    ratio = max(peaks) / min(peaks)
    shown = ", ".join(f"{units if kind == 'files' else units // 2**20}: {row['peak_rss_mb_max']:.0f}"
                      for units, row in points)
    return Target(
        name,
        f"max/min <= {FLAT_RSS_RATIO}",
        f"{ratio:.2f}",
        ratio <= FLAT_RSS_RATIO,
        f"largest peak MB per point ({'files' if kind == 'files' else 'MiB'}: MB) {shown}",
    )


def _linear_cost_target(summary: dict[str, Any], series: dict[str, list[tuple[int, str]]], kind: str,
                        unit: str, tool: str) -> Target:
    """Cost is CPU seconds (the tool's own): unlike wall time it does not move with other load."""
    points = _series_points(summary, series, kind, tool)
    if kind == "bytes":
        points = [(units // (1024 * 1024), row) for units, row in points]
    met, detail = _linear(points, "cpu_s", unit)
    return Target(
        f"{tool}: cost (CPU) linear in {kind}",
        f"top/bottom <= {LINEAR_MARGINAL_RATIO}",
        detail.split("(")[-1].rstrip(")") if met is not None else "n/a",
        met,
        detail,
    )
