"""The large-data targets: our upload against the fastest peer, client memory in every scenario,
filing against s5cmd's server-side copy, and verify by checksums against ``verify --deep``.

A missed upload, memory or filing target points at the profile of that scenario (``--profile``),
which says where the time goes; without one, the detail says how to make it. An upload verdict also
says whether it stands clear of the run's noise: when the repetitions of ours and of the fastest
peer overlap, another run may well give the other verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .peers import AWS_CP, AWS_SYNC, BOTO3, CRT, RCLONE, S5CMD_COPY, S5CMD_CP
from .runner import OURS_E2E, OURS_FILER, OURS_UPLOAD
from .targets_ours import Target, get, missing
from .verify_group import OURS_VERIFY, OURS_VERIFY_DEEP

#: Every other tool that uploads the same files: our upload must be at least as fast as the best.
UPLOAD_PEERS = (AWS_SYNC, AWS_CP, S5CMD_CP, BOTO3, RCLONE, CRT)
#: The processes of our client, whichever command they ran.
CLIENT_TOOLS = (OURS_UPLOAD, OURS_E2E, OURS_VERIFY, OURS_VERIFY_DEEP)
CLIENT_RSS_MB = 150.0
#: Verify by stored checksums at least this many times faster than reading every byte.
VERIFY_SPEEDUP = 5.0


def _where(scenario: str, profiles: Mapping[str, str]) -> str:
    path = profiles.get(scenario)
    if path:
        return f"; where the time goes: {path}"
    return "; python -m bench --profile shows where the time goes"


def _spread(ours: dict[str, Any], peer: dict[str, Any], name: str) -> str:
    """Whether the verdict stands clear of the repetitions' spread (min-max of the wall times)."""
    if "wall_s_min" not in ours or "wall_s_min" not in peer:
        return ""
    ranges = (f"ours {ours['wall_s_min']:.2f}-{ours['wall_s_max']:.2f} s, "
              f"{name} {peer['wall_s_min']:.2f}-{peer['wall_s_max']:.2f} s over {ours['runs']} and "
              f"{peer['runs']} runs")
    if ours["wall_s_max"] < peer["wall_s_min"] or peer["wall_s_max"] < ours["wall_s_min"]:
        return f"; clear of the noise ({ranges})"
    return f"; within the noise: the runs overlap ({ranges}), so a rerun may give the other verdict"


def fastest_peer_target(summary: dict[str, Any], scenario: str, profiles: Mapping[str, str]) -> Target:
    """Our upload's median wall time over the fastest peer's, on the same data."""
    name = f"{scenario}: ours upload <= 1.0x the fastest peer"
    ours = get(summary, scenario, OURS_UPLOAD)
    peers = {tool: row for tool in UPLOAD_PEERS if (row := get(summary, scenario, tool))}
    if not ours or not peers:
        return missing(name, "<= 1.0x", "ours upload or every peer did not run")
    fastest = min(peers, key=lambda tool: peers[tool]["wall_s"])
    ratio = ours["wall_s"] / peers[fastest]["wall_s"]
    others = ", ".join(f"{tool} {row['wall_s']:.2f} s" for tool, row in peers.items() if tool != fastest)
    detail = f"ours {ours['wall_s']:.2f} s vs {fastest} {peers[fastest]['wall_s']:.2f} s (others: {others})"
    detail += _spread(ours, peers[fastest], fastest)
    if ratio > 1.0:
        detail += _where(scenario, profiles)
    return Target(name, "<= 1.0x", f"{ratio:.2f}x", ratio <= 1.0, detail)


def filing_target(
    summary: dict[str, Any], scenario: str, profiles: Mapping[str, str] | None = None
) -> Target:
    """The filer's filing (handler) over s5cmd's server-side copy of the same objects; a miss points
    at the filing's profile (``"<scenario> filing"``)."""
    name = f"{scenario}: filer filing <= s5cmd server-side copy"
    filer, copy = get(summary, scenario, OURS_FILER), get(summary, scenario, S5CMD_COPY)
    if not filer or not copy:
        return missing(name, "<= 1.0x", "filer or s5cmd copy did not run")
    handler = filer.get("handler_s", filer["wall_s"])
    met = handler <= copy["wall_s"]
    detail = (f"filing (handler) {handler:.2f} s, filer process {filer['wall_s']:.2f} s, "
              f"s5cmd copy {copy['wall_s']:.2f} s")
    return Target(name, "<= 1.0x", f"{handler / copy['wall_s']:.2f}x", met,
                  detail if met else detail + _where(f"{scenario} filing", profiles or {}))


def client_rss_target(summary: dict[str, Any], profiles: Mapping[str, str]) -> Target:
    """The largest peak RSS of any of our client's processes, in any scenario."""
    name = f"client peak RSS < {CLIENT_RSS_MB:.0f} MB in every scenario"
    peaks = [
        (row["peak_rss_mb_max"], scenario, tool)
        for scenario, rows in summary.items()
        for tool, row in rows.items()
        if tool in CLIENT_TOOLS
    ]
    if not peaks:
        return missing(name, f"< {CLIENT_RSS_MB:.0f} MB", "our client did not run")
    peak, scenario, tool = max(peaks)
    per_scenario: dict[str, float] = {}
    for value, where, _ in peaks:
        per_scenario[where] = max(value, per_scenario.get(where, 0.0))
    detail = f"largest: {tool} on {scenario}; per scenario: " + ", ".join(
        f"{where} {value:.0f}" for where, value in per_scenario.items()
    )
    met = peak < CLIENT_RSS_MB
    return Target(name, f"< {CLIENT_RSS_MB:.0f} MB", f"{peak:.0f} MB", met,
                  detail if met else detail + _where(scenario, profiles))


def verify_target(summary: dict[str, Any], scenario: str) -> Target:
    """``verify`` (stored checksums, one HEAD a file) against ``verify --deep`` (every byte read)."""
    name = f"{scenario}: verify >= {VERIFY_SPEEDUP:.0f}x faster than verify --deep"
    threshold = f">= {VERIFY_SPEEDUP:.0f}x"
    default, deep = get(summary, scenario, OURS_VERIFY), get(summary, scenario, OURS_VERIFY_DEEP)
    if not default:
        return missing(name, threshold, "verify did not run")
    if not deep:
        return Target(name, threshold, "not measurable", None,
                      f"this client's verify has no --deep (it reads every byte: {default['wall_s']:.2f} s)")
    ratio = deep["wall_s"] / default["wall_s"]
    return Target(name, threshold, f"{ratio:.1f}x", ratio >= VERIFY_SPEEDUP,
                  f"verify {default['wall_s']:.2f} s vs --deep {deep['wall_s']:.2f} s (medians)")


def peer_targets(summary: dict[str, Any], profiles: Mapping[str, str] | None = None) -> list[Target]:
    """Every large-data target, for the scenarios this run has (the others read "not measured")."""
    profiles = profiles or {}
    return [
        fastest_peer_target(summary, "gis", profiles),
        fastest_peer_target(summary, "large", profiles),
        filing_target(summary, "gis", profiles),
        client_rss_target(summary, profiles),
        verify_target(summary, "verify"),
    ]


def missed_scenarios(summary: dict[str, Any]) -> list[str]:
    """The scenarios whose upload or client-memory target was missed: the ones to profile."""
    out = [s for s in ("gis", "large") if fastest_peer_target(summary, s, {}).met is False]
    for scenario, rows in summary.items():
        row = rows.get(OURS_UPLOAD)
        if row and row["peak_rss_mb_max"] >= CLIENT_RSS_MB and scenario not in out:
            out.append(scenario)
    return out


def missed_filings(summary: dict[str, Any]) -> list[str]:
    """The scenarios whose filing target was missed: the filings to profile."""
    return [s for s in ("gis",) if filing_target(summary, s).met is False]
