"""``bench/RESULTS.md``: one section per S3 server, each rendered from that server's latest run.

Numbers from moto and from LocalStack are not comparable with each other, so a run on one server
rewrites only its own server's section. Another server's section is rendered from that server's
latest results JSON where this machine has it. The JSON is not committed, so where it is missing, or
older than the run RESULTS.md records (a later run committed from another machine), the section is
kept as RESULTS.md already has it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .report import _COLUMNS, _dataset_line, _md_table, _rows, _target_rows
from .server import SERVERS

#: Section order: moto first, the default server and the one the README quotes.
BACKENDS = ("moto", *sorted(set(SERVERS) - {"moto"}))
#: A section starts at its server's name as a level-2 heading and runs to the next level-2 heading.
_SECTION = re.compile(r"^## (\S+)[ \t]*$", re.MULTILINE)
_ANY_H2 = re.compile(r"^## ", re.MULTILINE)
#: A section's start time, as :func:`section` writes it (``%Y-%m-%d %H:%M UTC`` sorts as it reads).
_STARTED = re.compile(r"^Produced by `[^`]*` on (\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC)", re.MULTILINE)

PREAMBLE = (
    "# Benchmark results\n"
    "\n"
    "One section per S3 server the benchmark runs against (`python -m bench --backend moto`, the "
    "default, or `--backend localstack`), each from that server's latest run, with the machine, commit "
    "and date it ran on; a run rewrites only its own server's section. Numbers from the two servers are "
    "not comparable with each other, only tools against tools on the same server. See "
    "[README.md](README.md) for what is measured and how.\n"
    "\n"
    "In the measurement tables, `wall s`: median wall time of the tool's process; for the filer, the "
    "process (start-up and imports included) and, in brackets, the filing itself (the handler call). "
    "`vs ours`: wall time over our upload's (filing rows: over our filer's). `peak RSS MB`: median peak "
    "resident set of the largest process. `requests`, `conns` (TCP connections opened), `MB sent`: "
    "counted at the server. `server cpu s`: CPU the S3 server spent serving the tool.\n"
)


def backend_of(results: Mapping[str, Any]) -> str:
    """Runs recorded before ``--backend`` existed were all on moto."""
    return results.get("plan", {}).get("backend", "moto")


def _repetitions(reps: int) -> str:
    return "one repetition, so no medians" if reps == 1 else f"medians of {reps} interleaved repetitions"


def section(results: Mapping[str, Any]) -> str:
    """One server's latest run: when and where it ran, its targets and its tables."""
    m = results["machine"]
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    lines = [
        f"## {backend_of(results)}",
        "",
        f"Produced by `{results['command']}` on {results['started']} "
        f"in {results['duration_s'] / 60:.1f} minutes "
        f"(commit {m['commit']}); {_repetitions(results['plan']['reps'])}.",
        "",
        "### Machine",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores; RAM {m['ram_gb']} GB; {m['os']}",
        f"- Python {m['python']}; {m['aws']}; s5cmd {m['s5cmd']}",
        f"- S3 server: {backend_of(results)}",
        f"- Load average (1 min) at the start of the run: {m.get('load_average_1m')}, at the end: "
        f"{m.get('load_average_1m_end')} (other work on the machine inflates wall times)",
        f"- Packages: {packages}",
        "",
        "### Targets",
        "",
        _md_table(("target", "threshold", "measured", "", "detail"), _target_rows(results)),
        "",
        "### Measurements",
        "",
    ]
    for scenario, rows in results["summary"].items():
        lines += [f"#### {_dataset_line(results, scenario)}", "", _md_table(_COLUMNS, _rows(rows)), ""]
    if results.get("profiles"):
        lines += ["### Profiles", "", "Where the time goes, for the targets above that were missed "
                  "(`python -m bench --profile`):", ""]
        lines += [f"- {scenario}: [{path}]({path.removeprefix('bench/')})"
                  for scenario, path in results["profiles"].items()]
        lines.append("")
    if results.get("errors"):
        lines += (
            ["### Failures", ""]
            + [f"- {e['scenario']} / {e['group']} rep {e['rep']}: {e['error']}" for e in results["errors"]]
            + [""]
        )
    return "\n".join(lines)


def kept_sections(document: str) -> dict[str, str]:
    """Each server's section of an earlier RESULTS.md, verbatim, heading included."""
    out = {}
    for match in _SECTION.finditer(document):
        if match.group(1) not in SERVERS:
            continue
        following = _ANY_H2.search(document, match.end())
        end = following.start() if following else len(document)
        out[match.group(1)] = document[match.start() : end].rstrip("\n") + "\n"
    return out


def document(sections: Mapping[str, Mapping[str, Any] | str]) -> str:
    """The whole of RESULTS.md from each server's results (a dict) or kept section (a string)."""
    parts = [PREAMBLE]
    for backend in BACKENDS:
        if backend in sections:
            body = sections[backend]
            parts.append(body if isinstance(body, str) else section(body))
    return "\n".join(parts)


def gather(
    results: Mapping[str, Any], markdown_path: Path, latest: Mapping[str, Path]
) -> dict[str, Mapping[str, Any] | str]:
    """What each section is rendered from: this run for its own server; for the others their
    latest JSON if it is here and not older than the run the existing RESULTS.md records, else
    their section as RESULTS.md has it."""
    sections: dict[str, Mapping[str, Any] | str] = {}
    if markdown_path.exists():
        sections.update(kept_sections(markdown_path.read_text(encoding="utf-8")))
    for backend, json_path in latest.items():
        if not json_path.exists():
            continue
        earlier = json.loads(json_path.read_text(encoding="utf-8"))
        kept = sections.get(backend)
        recorded = _STARTED.search(kept) if isinstance(kept, str) else None
        if recorded is None or earlier.get("started", "") >= recorded.group(1):
            sections[backend] = earlier
    sections[backend_of(results)] = results
    return sections


def write(markdown_path: Path, results: Mapping[str, Any], latest: Mapping[str, Path]) -> None:
    """Rewrite RESULTS.md with this run's section, keeping every other server's."""
    markdown_path.write_text(document(gather(results, markdown_path, latest)), encoding="utf-8")
