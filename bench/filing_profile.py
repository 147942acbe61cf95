"""Where a filing's time goes: the filer run once more, its steps timed against the server's CPU,
then once more under py-spy.

Filing is bound by the S3 server as much as by the filer: most of it is the server answering GETs
(step 5 reads every piece before anything is written) and making server-side copies (step 7). So
the summary's first table splits the handler's wall clock by the steps of docs/protocol.md, each
with the CPU the filer and the server spent in it (:mod:`bench._filer_invoke`'s marks), next to the measured
s5cmd server-side copy of the same objects, which reads nothing; the filer's own threads follow,
sampled by py-spy and classified as for the upload (:mod:`bench.spy`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from . import spy
from ._filer_invoke import MARKS_VAR, SERVER_PID_VAR
from .measure import failed, run_child
from .peers import S5CMD_COPY
from .runner import OURS_FILER

#: What each step hook of the filer ends (``artifact_filer.filer.STEPS``), by docs/protocol.md's numbers.
STEP_LABELS = {
    "receipt-checked": "1-2. event decoded, receipt looked for",
    "manifest-read": "3. manifest read and validated",
    "record-checked": "4. run record looked for",
    "verified": "5. every piece read and checked (SHA-256, CRC64NVME, pack members)",
    "claimed": "6. timestamp claimed",
    "filed": "7. files filed: server-side copies (blobs), puts (packed files)",
    "recorded": "8. run record written",
    "indexed": "9. reuse index merged",
    "cleaned": "10. staging cleaned",
    "receipted": "11. receipt written",
    "manifest-deleted": "manifest deleted",
    "end": "handler returned, continuations looked for",
}
#: Reached once per file inside step 7, so not a step boundary of its own.
_PER_FILE = frozenset({"object-filed"})


def phases(marks: list[list[Any]]) -> list[tuple[str, float, float, float]]:
    """``(step, wall s, filer CPU s, server CPU s)`` spent between one step and the next, in order.

    Each step is taken at the first time it is reached; per-file marks are left out.
    """
    seen: dict[str, list[Any]] = {}
    for mark in sorted(marks, key=lambda m: m[1]):
        if mark[0] not in _PER_FILE:
            seen.setdefault(mark[0], mark)
    ordered = list(seen.values())
    return [
        (step, wall - prev[1], cpu - prev[2], server - prev[3])
        for prev, (step, wall, cpu, server) in zip(ordered, ordered[1:], strict=False)
    ]


def steps_table(marks: list[list[Any]], summary_rows: dict[str, Any]) -> list[str]:
    """The Markdown of the step split, with the s5cmd copy of the same objects beside it."""
    split = phases(marks)
    total = sum(wall for _, wall, _, _ in split) or 1.0
    rows = [
        f"| {STEP_LABELS.get(step, step)} | {wall:.2f} | {100 * wall / total:.0f}% | {cpu:.2f} "
        f"| {server:.2f} |"
        for step, wall, cpu, server in split
    ]
    rows.append(f"| **the filing** | **{total:.2f}** | 100% | **{sum(s[2] for s in split):.2f}** | "
                f"**{sum(s[3] for s in split):.2f}** |")
    copy, filer = summary_rows.get(S5CMD_COPY), summary_rows.get(OURS_FILER)
    if copy:
        rows.append(f"| s5cmd server-side copy of the same objects (median of the run) | "
                    f"{copy['wall_s']:.2f} | | {copy['cpu_s']:.2f} | {copy['server_cpu_s']:.2f} |")
    if filer:
        handler = filer.get("handler_s", filer["wall_s"])
        rows.append(f"| ours filer, handler (median of the run) | {handler:.2f} | | | "
                    f"{filer['server_cpu_s']:.2f} |")
    return [
        "## Steps of the filing (wall clock), with the CPU each cost",
        "",
        "Timed by the filer's own step hook in a run of its own (`bench/_filer_invoke.py`). s5cmd's "
        "copy does what step 7 does for blobs and nothing else: step 5 reads every piece back before "
        "anything reaches the archive (docs/protocol.md), which s5cmd's copy never does.",
        "",
        "| step (from the previous one to its end) | wall s | share | filer CPU s | server CPU s |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]


def summarize(marks: list[list[Any]], raw: str, title: str, wall_s: float,
              summary_rows: dict[str, Any]) -> str:
    """The Markdown summary: the step split first, then the filer's threads as py-spy saw them."""
    threads = spy.summarize(raw, title, wall_s, subject="The filer (one invocation of its handler)")
    head, _, rest = threads.partition("\n## ")
    return "\n".join([head.rstrip(), "", *steps_table(marks, summary_rows), "## " + rest])


def profile_filing(bench: Any, scenario: Any, backend: str, profiles_dir: Path, raw_dir: Path,
                   summary_rows: dict[str, Any]) -> Path:
    """Upload ``scenario`` and file it twice over (steps timed, then under py-spy); write the summary."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    marks_path = raw_dir / f"filing-{backend}-{scenario.name}.json"
    _filed(bench, scenario, "filing-steps", [],
           {MARKS_VAR: str(marks_path), SERVER_PID_VAR: str(bench.server.pid)})
    raw_path = raw_dir / f"filing-{backend}-{scenario.name}.txt"
    child = _filed(bench, scenario, "filing-spy", [
        spy.py_spy_executable(), "record", "--format", "raw", "--idle", "--threads", "--rate",
        str(spy.RATE), "-o", str(raw_path), "--"])
    marks = json.loads(marks_path.read_text())["marks"]
    title = (f"ours filer, {scenario.name} ({scenario.dataset.files} files, "
             f"{scenario.dataset.bytes / 1e6:.0f} MB), {backend}")
    profiles_dir.mkdir(parents=True, exist_ok=True)
    out = profiles_dir / f"{backend}-{scenario.name}-filing.md"
    text = summarize(marks, raw_path.read_text(), title, child.wall_s, summary_rows)
    out.write_text(text, encoding="utf-8")
    bench._fresh()
    return out


def _filed(bench: Any, scenario: Any, label: str, wrapper: list[str],
           env: dict[str, str] | None = None) -> Any:
    """Our upload of ``scenario`` on a fresh stack, then the filer filing it once
    (:mod:`bench._filer_invoke`, behind ``wrapper``: a profiler's command line, or nothing) with
    the filer's environment and ``env``; both must succeed."""
    stack, folder, config = bench._fresh_client(scenario, label)
    argv_upload = bench.ours_argv(scenario, config, wait=False)
    upload = run_child(argv_upload, bench._client_env(folder), bench.timeout_s)
    if upload.returncode != 0:
        raise failed(f"our upload of {scenario.name}", upload)
    event_path = folder / "event.json"
    event_path.write_text(json.dumps(bench._sqs_event(stack)))
    argv = [*wrapper, sys.executable, "-m", "bench._filer_invoke", str(event_path), "256"]
    child = run_child(argv, {**bench.env, **stack.filer_environment(), **(env or {})}, bench.timeout_s)
    if child.returncode != 0:
        raise failed(f"{label} on {scenario.name}", child)
    bench._archived(stack, scenario, OURS_FILER)
    return child
