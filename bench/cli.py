"""``python -m bench``: generate the data, start the server, measure every tool, report.

``--smoke`` runs the same code on tiny data with one repetition, for CI: it proves every tool
still runs and every number is collected, in seconds; its timings mean nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import REPO_ROOT, data, filing_profile, results_md, spy
from .machine import machine
from .peers import GROUP_AWS, GROUP_BOTO3, GROUP_CRT, GROUP_RCLONE, GROUP_S5CMD, S5CMD_COPY
from .report import summarize, text, write
from .runner import (
    GROUP_E2E,
    GROUP_OURS,
    Bench,
    Scenario,
    tool_environment,
)
from .server import SERVERS
from .targets_ours import targets
from .targets_peers import missed_filings, missed_scenarios, peer_targets
from .verify_group import GROUP_VERIFY
from .warm import warm_up

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
MiB = data.MiB
ALL_TYPES = ("config", "logs", "report", "gis_data")
COMPARE = (GROUP_OURS, GROUP_E2E, GROUP_AWS, GROUP_S5CMD)
#: The peers of a large-data upload; the GIS scenario leaves out ours+filing (no target reads it).
PEERS = (GROUP_RCLONE, GROUP_CRT)
GIS_GROUPS = (GROUP_OURS, GROUP_AWS, GROUP_S5CMD, *PEERS)
#: The smoke run's tiny GIS folder and verify run.
SMOKE_GIS_BYTES, SMOKE_GIS_FILES, SMOKE_VERIFY_FILES = 24 * MiB, 30, 40

#: (files series, bytes series) per ``--series`` choice; the main runs join them as points.
SERIES = {
    "none": ((), ()),
    "default": ((1000, 10_000), (100 * MiB, 1024 * MiB)),
    "full": ((1000, 10_000, 50_000, 200_000), (100 * MiB, 1024 * MiB)),
}


def latest_json(backend: str, smoke: bool = False) -> Path:
    """Each server's latest results have their own file; moto's keeps the name it had before
    there was a choice of server."""
    stem = "smoke" if smoke else "latest"
    return RESULTS_DIR / (f"{stem}.json" if backend == "moto" else f"{stem}-{backend}.json")


def _write(results: dict[str, Any], args: argparse.Namespace, json_path: Path) -> None:
    write(results, json_path)
    if args.markdown is not None:
        results_md.write(args.markdown, results, {backend: latest_json(backend) for backend in SERVERS})


def _label(size: int) -> str:
    return f"{size // MiB}M" if size % MiB == 0 else f"{size}B"


def plan(args: argparse.Namespace) -> tuple[list[Scenario], dict[str, list[tuple[int, str]]], dict[str, Any]]:
    """The scenarios to run, the scaling series they form, and the plan as recorded in the results."""
    root = Path(args.data_dir)
    small_n, large_size = (40, 12 * MiB) if args.smoke else (args.files, args.large_mb * MiB)
    series_name = "none" if args.smoke else args.series
    files_series, bytes_series = SERIES[series_name]

    only = set(getattr(args, "only", None) or ())

    def wanted(name: str) -> bool:
        return not only or name in only

    scenarios = []
    if wanted("small") or wanted("full"):
        small = data.small_files(root, small_n)
    if wanted("large") or wanted("full"):
        large = data.large_file(root, large_size)
    if wanted("small"):
        scenarios.append(Scenario("small", small, ("logs",), COMPARE, series=("files", small_n)))
    if wanted("large"):
        gis = large.project / "gis_data" / "orthomosaic.gpkg"
        scenarios.append(Scenario(
            "large",
            large,
            ("gis_data",),
            (*COMPARE, GROUP_BOTO3, *PEERS),
            single_file=gis,
            series=("bytes", large_size),
        ))
    if wanted("gis"):
        gis_bytes = SMOKE_GIS_BYTES if args.smoke else int(args.gis_gb * 1024) * MiB
        gis_files = SMOKE_GIS_FILES if args.smoke else args.gis_files
        gis = data.gis_folder(root, gis_bytes, gis_files)
        scenarios.append(Scenario("gis", gis, ("gis_data",), GIS_GROUPS))
    if wanted("verify") and (args.smoke or args.verify_files):
        n = SMOKE_VERIFY_FILES if args.smoke else args.verify_files
        scenarios.append(Scenario("verify", data.small_files(root, n), ("logs",), (GROUP_VERIFY,)))
    if not args.smoke and wanted("full"):
        full = data.full_run(root, small, large)
        scenarios.append(Scenario("full", full, ALL_TYPES, COMPARE))
    for n in files_series:
        if n != small_n and wanted(f"files-{n}"):
            scenarios.append(
                Scenario(
                    f"files-{n}", data.small_files(root, n), ("logs",), (GROUP_OURS,), series=("files", n)
                )
            )
    for size in bytes_series:
        if size != large_size and wanted(f"bytes-{_label(size)}"):
            dataset = data.large_file(root, size)
            scenarios.append(
                Scenario(
                    f"bytes-{_label(size)}",
                    dataset,
                    ("gis_data",),
                    (GROUP_OURS,),
                    single_file=dataset.project / "gis_data" / "orthomosaic.gpkg",
                    series=("bytes", size),
                )
            )
    series: dict[str, list[tuple[int, str]]] = {"files": [], "bytes": []}
    if series_name != "none":
        for s in scenarios:
            if s.series:
                series[s.series[0]].append((s.series[1], s.name))
    recorded = {
        "mode": "smoke" if args.smoke else "full",
        "backend": args.backend,
        "reps": args.reps if not args.smoke else 1,
        "small_files": small_n,
        "large_bytes": large_size,
        "series": series_name,
        "gis_bytes": next((s.dataset.bytes for s in scenarios if s.name == "gis"), None),
        "verify_files": next((s.dataset.files for s in scenarios if s.name == "verify"), None),
        "scenarios": {s.name: {"groups": list(s.groups), "include": list(s.include)} for s in scenarios},
    }
    return scenarios, series, recorded


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke", action="store_true", help="tiny data, one repetition, for CI (timings meaningless)"
    )
    parser.add_argument("--reps", type=int, default=3, help="repetitions per measurement (default 3)")
    parser.add_argument("--files", type=int, default=2000, help="log files in the many-small-files run")
    parser.add_argument("--large-mb", type=int, default=256, help="MiB of the large GIS file")
    parser.add_argument(
        "--gis-gb", type=float, default=2.5,
        help="GiB of the GIS folder: a .gdb of --gis-files files and a .gpkg of 40%% of it (default 2.5)",
    )
    parser.add_argument(
        "--gis-files", type=int, default=300, help="files in the GIS folder's .gdb (default 300)"
    )
    parser.add_argument(
        "--verify-files", type=int, default=20_000,
        help="files of the run the verify scenario files and verifies (default 20000; 0 leaves it out)",
    )
    parser.add_argument(
        "--profile", nargs="?", const="missed", choices=("missed", "all"),
        help="after the run, profile our upload (py-spy, every thread) on each scenario whose upload "
        "target was missed, and our filing (its steps against the server's CPU, then py-spy) where "
        "the filing target was missed (all: every scenario); summaries go to bench/profiles/",
    )
    parser.add_argument(
        "--series",
        choices=sorted(SERIES),
        default="default",
        help="scaling series: default 1k/2k/10k files and 100M/256M/1G; full adds 50k and 200k files (slow)",
    )
    parser.add_argument(
        "--data-dir", default=str(RESULTS_DIR / "data"), help="where generated data is cached"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="results JSON (default bench/results/latest.json; latest-localstack.json for LocalStack)",
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        default=None,
        help="results Markdown (default bench/RESULTS.md; none in smoke)",
    )
    parser.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="only re-evaluate the targets of a results JSON and rewrite its reports",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds any one tool may run")
    parser.add_argument(
        "--backend", choices=sorted(SERVERS), default="moto",
        help="the S3 server every tool talks to: moto (default) or LocalStack (make localstack; "
        "ARTIFACT_BACKUP_LOCALSTACK_PYTHON names its interpreter)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="SCENARIO",
        help="run only these scenarios of the plan (small, large, gis, verify, full, files-N, "
        "bytes-NM), e.g. "
        "--series full --only files-1000 files-200000 for the memory series' ends",
    )
    args = parser.parse_args(argv)
    if args.markdown is None and not args.smoke:
        args.markdown = BENCH_DIR / "RESULTS.md"
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    if args.gis_gb * 1024 < 8 or args.gis_files < 1:
        parser.error("--gis-gb must be at least 0.008 (8 MiB) and --gis-files at least 1")
    if args.verify_files < 0:
        parser.error("--verify-files must be 0 or more")
    return args


def render(args: argparse.Namespace) -> int:
    """Recompute summary and targets from the measurements of an earlier run and rewrite its reports."""
    import json

    from .measure import Measurement

    results = json.loads(args.render.read_text())
    measurements = [Measurement(**{"connections": None, **m}) for m in results["measurements"]]
    results["summary"] = summarize(measurements)
    series = {k: [tuple(p) for p in v] for k, v in results["series"].items()}
    one_gb = next((name for units, name in series.get("bytes", []) if units == 1024 * MiB), None)
    files = {name: d["files"] for name, d in results.get("datasets", {}).items()}
    results["targets"] = [t.as_dict() for t in targets(results["summary"], series, "small", "large", one_gb,
                                                       files)]
    results["targets"] += [t.as_dict() for t in peer_targets(results["summary"], results.get("profiles"))]
    print(text(results))
    _write(results, args, args.json or args.render)
    return 0


def _profile(args: argparse.Namespace, bench: Bench, scenarios: list[Scenario], summary: dict[str, Any]
             ) -> dict[str, str]:
    """Profile our upload, and our filing, where its target was missed (or everywhere):
    ``{scenario: summary path}``, ``{"<scenario> filing": summary path}`` for a filing."""
    if args.profile == "all":
        names = [s.name for s in scenarios if GROUP_OURS in s.groups]
        filings = [s.name for s in scenarios if s.name in summary and S5CMD_COPY in summary[s.name]]
    else:
        names, filings = missed_scenarios(summary), missed_filings(summary)
    # Beside the Markdown that links them (bench/profiles/ for RESULTS.md), else beside the JSON.
    profiles_dir = args.markdown.parent / "profiles" if args.markdown else (
        args.json or latest_json(args.backend, args.smoke)).parent / "profiles"
    jobs = [(s.name, "upload", s) for s in scenarios if s.name in names]
    jobs += [(f"{s.name} filing", "filing", s) for s in scenarios if s.name in filings]
    profiles = {}
    for name, what, scenario in jobs:
        print(f"profiling ours {what} on {scenario.name} ...", flush=True)
        try:
            if what == "upload":
                path = spy.profile_upload(bench, scenario, args.backend, profiles_dir, RESULTS_DIR)
            else:
                path = filing_profile.profile_filing(bench, scenario, args.backend, profiles_dir, RESULTS_DIR,
                                                     summary[scenario.name])
        except Exception as exc:  # noqa: BLE001 - a profile must never cost the run its measurements
            print(f"  profile of {name} failed: {exc!r}", flush=True)
            bench.log.errors.append({"scenario": scenario.name, "group": f"profile {what}", "rep": 0,
                                     "error": str(exc)})
            continue
        shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
        profiles[name] = shown.as_posix()
        print(f"  wrote {path}", flush=True)
    return profiles


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.render is not None:
        return render(args)
    started = time.monotonic()
    started_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print("generating data (cached between runs) ...", flush=True)
    scenarios, series, recorded = plan(args)
    print("machine ...", flush=True)
    host = machine()
    warm_up(tool_environment())
    with tempfile.TemporaryDirectory(prefix="bench-") as work, SERVERS[args.backend]() as server:
        print(f"S3 server ({args.backend}) on {server.endpoint_url}", flush=True)
        bench = Bench(server, Path(work), args.timeout, progress=lambda line: print(line, flush=True))
        log = bench.run(scenarios, recorded["reps"])
        summary = summarize(log.measurements)
        profiles = _profile(args, bench, scenarios, summary) if args.profile else {}
    if hasattr(os, "getloadavg"):
        host["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    one_gb = next((s.name for s in scenarios if s.series == ("bytes", 1024 * MiB)), None)
    results = {
        "schema": 1,
        "command": "python -m bench" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip(),
        "started": started_at,
        "duration_s": time.monotonic() - started,
        "machine": host,
        "plan": recorded,
        "datasets": {s.name: data.describe(s.dataset) for s in scenarios},
        "series": series,
        "measurements": [m.as_dict() for m in log.measurements],
        "summary": summary,
        "targets": [t.as_dict() for t in targets(summary, series, "small", "large", one_gb,
                                                 {s.name: s.dataset.files for s in scenarios})]
        + [t.as_dict() for t in peer_targets(summary, profiles)],
        "profiles": profiles,
        "errors": log.errors,
    }
    for d in results["datasets"].values():
        d["project"] = (
            str(Path(d["project"]).relative_to(REPO_ROOT))
            if Path(d["project"]).is_relative_to(REPO_ROOT)
            else d["project"]
        )
    print()
    print(text(results))
    json_path = args.json or latest_json(args.backend, args.smoke)
    _write(results, args, json_path)
    print(
        f"\nwrote {json_path}"
        + (f" and {args.markdown}" if args.markdown else "")
        + f" in {results['duration_s']:.0f} s"
    )
    if log.errors:
        print(f"{len(log.errors)} measurement(s) failed; see 'errors' in the JSON", file=sys.stderr)
        return 1
    return 0
