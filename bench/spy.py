"""Where our upload's time goes: the client run once more under py-spy, every thread sampled.

The client hashes, packs and sends on several threads, so a profiler of the main thread alone
(cProfile) would show it waiting on futures and little else. py-spy samples every thread from
outside the process, idle ones included (``--idle``), without changing the code it samples. It
pauses the client for each sample (its default): unpaused (``--nonblocking``), a main thread busy
framing a pack was read torn, with no frame at all, in four samples of ten. The samples are summed three ways:

- the **main thread**, whose samples span the wall clock: what the command was doing, start to end
  (shown after the exact split cProfile measures in a second run, :mod:`bench.main_thread`);
- **all threads** (thread-seconds): hashing, packing, sending and receiving, waiting;
- the **functions** most often on a busy thread's stack (cumulative) and at its top (self).

The summary is Markdown, written to ``bench/profiles/<server>-<scenario>.md`` and linked from the
results; py-spy's raw samples go next to the results JSON.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import main_thread
from .executables import executable
from .measure import failed, run_child

#: Samples per second: enough for a run of seconds, cheap enough not to slow it down.
RATE = 100
#: How many functions the summary lists.
TOP = 20

HASHING = "hashing"
PACKING = "packing"
NETWORK = "network (send, receive, wait for the server)"
WAITING = "waiting (queues, locks, futures)"
IMPORTS = "start-up (imports)"
FILES = "reading and listing files"
MANIFEST = "the file list and manifest (spool, check, write)"
OTHER = "other Python"
NATIVE = "no Python frame (interpreter start and exit)"
CATEGORIES = (HASHING, PACKING, NETWORK, FILES, MANIFEST, WAITING, IMPORTS, OTHER, NATIVE)

_NETWORK_FILES = ("/socket.py", "/ssl.py", "/http/client.py", "/urllib3/", "/selectors.py")
_WAITING_FILES = ("/threading.py", "/queue.py", "/concurrent/futures/")
_PACKING_FILES = ("/pack.py", "/pack_task.py", "/tarfile.py", "/zipfile.py", "/gzip.py")
#: Frames on every thread's stack (thread start, the pool's loop), left out of the cumulative list.
_PLUMBING = ("/threading.py", "/concurrent/futures/thread.py", "/<string>")
#: Our functions that hash (``hash_file``, ``_sha256_of``, ``start_hashes``) say so in their names.
_HASH_WORDS = ("hash", "sha256", "digest")
_MANIFEST_FILES = ("/manifest.py", "/manifest_json.py", "/manifest_checks.py", "/spool.py",
                   "/sqlite_spool.py", "/filing.py", "/record_writer.py", "/upload/commit.py")
_FILE_FUNCTIONS = ("readinto", "read", "scandir", "walk", "stat", "rglob", "iterdir", "lstat")


def py_spy_executable() -> str:
    return executable("py-spy")


def _frame(text: str) -> tuple[str, str]:
    """(function, "/" + file) of a raw frame ``function (path/to/file.py:123)``; py-spy shortens the
    paths (``threading.py``, ``artifact_backup/pack.py``), so every one gets a leading slash to match."""
    function, _, where = text.partition(" (")
    return function, "/" + where.rsplit(":", 1)[0]


def category(frames: list[str]) -> str:
    """What a sample was doing, from its innermost frame outwards (py-spy lists outermost first)."""
    if not frames:
        return NATIVE
    parsed = [_frame(f) for f in frames]
    if any(function == "_find_and_load" for function, _ in parsed):
        return IMPORTS
    for function, where in reversed(parsed):
        ours = "artifact_" in where
        if "hashlib" in where or (ours and any(w in (function + where).lower() for w in _HASH_WORDS)):
            return HASHING
        if where.endswith(_PACKING_FILES):
            return PACKING
        if any(part in where for part in _NETWORK_FILES):
            return NETWORK
        if any(part in where for part in _WAITING_FILES):
            return WAITING
        if ours and function in _FILE_FUNCTIONS:
            return FILES
        if ours and where.endswith(_MANIFEST_FILES):
            return MANIFEST
    return OTHER


def parse(raw: str) -> list[tuple[str, list[str], int]]:
    """py-spy's raw (collapsed) output as (thread, frames outermost first, samples)."""
    out = []
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        thread, *frames = stack.split(";")
        out.append((thread, frames, int(count)))
    return out


def _main_thread(samples: Iterable[tuple[str, list[str], int]]) -> str | None:
    """The thread that ran the command line: py-spy names it ``MainThread``; else (an older py-spy)
    the one whose outermost frame is the ``-c`` boot's module."""
    counts: Counter[str] = Counter()
    for thread, frames, n in samples:
        if thread.endswith(": MainThread") or (frames and frames[0].startswith("<module> (<string>")):
            counts[thread] += n
    return counts.most_common(1)[0][0] if counts else None


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(row) + " |" for row in rows
    ]


def _split(counts: Counter[str], total: int, rate: int) -> list[tuple[str, ...]]:
    return [
        (name, f"{counts[name] / rate:.2f}", f"{100 * counts[name] / total:.0f}%")
        for name in CATEGORIES
        if counts[name]
    ]


def _functions(top: list[tuple[str, int]], busy: int, rate: int) -> list[str]:
    rows = [(f"`{frame}`", f"{n / rate:.2f}", f"{100 * n / busy:.0f}%") for frame, n in top]
    return _table(("function", "seconds", "share of busy"), rows)


def summarize(raw: str, title: str, wall_s: float, rate: int = RATE, exact: list[str] | None = None,
              subject: str = "Our upload") -> str:
    """The Markdown summary of one profiled run of ``subject``; ``exact``: the main thread's lines
    from cProfile (:mod:`bench.main_thread`), shown first."""
    samples = parse(raw)
    main = _main_thread(samples)
    on_main: Counter[str] = Counter()
    everywhere: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for thread, frames, n in samples:
        kind = category(frames)
        everywhere[kind] += n
        if thread == main:
            on_main[kind] += n
        if kind in (WAITING, NATIVE):
            continue
        for frame in dict.fromkeys(frames):
            if not _frame(frame)[1].endswith(_PLUMBING):
                cumulative[frame] += n
        own[frames[-1]] += n
    busy = sum(n for kind, n in everywhere.items() if kind != WAITING) or 1
    lines = [
        f"# Profile: {title}",
        "",
        f"{subject}, run once more under py-spy ({rate} samples a second, every thread, idle ones "
        f"included): {wall_s:.2f} s wall under the profiler, {len({t for t, _, _ in samples})} threads "
        "seen. Produced by `python -m bench --profile`; see bench/spy.py for how samples are classified.",
        "",
        *(exact or []),
        "## Main thread, sampled (py-spy)",
        "",
        *_table(("activity", "seconds", "share"), _split(on_main, sum(on_main.values()) or 1, rate)),
        "",
        "## All threads (thread-seconds)",
        "",
        *_table(("activity", "thread-seconds", "share"),
                _split(everywhere, sum(everywhere.values()) or 1, rate)),
        "",
        f"## Top functions by cumulative time (busy samples: {busy / rate:.2f} thread-seconds)",
        "",
        *_functions(cumulative.most_common(TOP), busy, rate),
        "",
        "## Top functions by own time",
        "",
        *_functions(own.most_common(TOP // 2), busy, rate),
        "",
    ]
    return "\n".join(lines)


def profile_upload(bench: Any, scenario: Any, backend: str, profiles_dir: Path, raw_dir: Path) -> Path:
    """Run our upload of ``scenario`` under py-spy on a fresh stack; write and return the summary."""
    _, folder, config = bench._fresh_client(scenario, "profile")
    raw_dir.mkdir(parents=True, exist_ok=True)
    raw_path = raw_dir / f"profile-{backend}-{scenario.name}.txt"
    argv = [py_spy_executable(), "record", "--format", "raw", "--idle", "--threads",
            "--rate", str(RATE), "-o", str(raw_path), "--", *bench.ours_argv(scenario, config, wait=False)]
    child = run_child(argv, bench._client_env(folder), bench.timeout_s)
    if child.returncode != 0 or not raw_path.exists():
        raise failed(f"py-spy on {scenario.name}", child)
    exact = _main_thread_exactly(bench, scenario, raw_dir / f"profile-{backend}-{scenario.name}.pstats")
    profiles_dir.mkdir(parents=True, exist_ok=True)
    out = profiles_dir / f"{backend}-{scenario.name}.md"
    title = f"ours upload, {scenario.name} ({scenario.dataset.files} files, " \
            f"{scenario.dataset.bytes / 1e6:.0f} MB), {backend}"
    out.write_text(summarize(raw_path.read_text(), title, child.wall_s, exact=exact), encoding="utf-8")
    bench._fresh()
    return out


def _main_thread_exactly(bench: Any, scenario: Any, stats_path: Path) -> list[str]:
    """The same upload once more, on a fresh stack, under cProfile (:mod:`bench.main_thread`)."""
    _, folder, config = bench._fresh_client(scenario, "cprofile")
    argv = bench.ours_argv(scenario, config, wait=False)
    argv[2] = main_thread.BOOT  # [python, "-c", boot, "upload", ...]
    child = run_child(argv, {**bench._client_env(folder), main_thread.ENV: str(stats_path)}, bench.timeout_s)
    if child.returncode != 0 or not stats_path.exists():
        raise failed(f"cProfile on {scenario.name}", child)
    return main_thread.summarize(stats_path)
