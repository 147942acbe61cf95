"""The main thread of our upload, exactly: cProfile's call counts and cumulative times.

py-spy (:mod:`bench.spy`) sees every thread but only by sampling; on the GIS folder it put up to a
quarter of the main thread's samples in the manifest, which cProfile measured at 50 ms. The wall
split of the main thread is therefore taken from cProfile, which times every call of the thread it
runs in, and py-spy keeps what only it can show: the other threads.

The client runs under :data:`BOOT`, which wraps the command line's ``main()`` in a profiler and
dumps the stats to ``$BENCH_CPROFILE_OUT`` whatever the exit.
"""

from __future__ import annotations

import pstats
from pathlib import Path

#: The client's command line, under cProfile (imports of the CLI module itself excluded).
BOOT = (
    "import cProfile, os, sys\n"
    "from artifact_backup.cli import main\n"
    "profile = cProfile.Profile()\n"
    "profile.enable()\n"
    "try:\n"
    "    code = main()\n"
    "finally:\n"
    "    profile.disable()\n"
    "    profile.dump_stats(os.environ['BENCH_CPROFILE_OUT'])\n"
    "sys.exit(code)\n"
)
ENV = "BENCH_CPROFILE_OUT"

#: (activity, file suffix, function) whose cumulative time is the activity's, in the order shown.
ACTIVITIES = (
    ("S3 client start-up (boto3 imports, client)", "/artifact_backup/aws.py", "make_s3_client"),
    ("packing (tar, deflate; waiting for the deflate thread included)", "/upload/pack_task.py", "send_packs"),
    ("waiting for the sends to finish", "/upload/sender.py", "wait"),
    ("waiting for large files' hashes", "/upload/blob_task.py", "file_blobs"),
    ("manifest (build, check)", "/upload/commit.py", "run_manifest"),
    ("commit (put the manifest)", "/upload/commit.py", "put_manifest"),
)
_TOTAL = ("/artifact_backup/cli/__init__.py", "main")
#: Time the packing thread (main) spent handing blocks to the deflate thread: Queue.put from pack.py.
_HAND_OVER = ("/queue.py", "put", "/artifact_backup/pack.py")


def _find(stats: dict, suffix: str, name: str) -> tuple | None:
    for key in stats:
        if key[0].replace("\\", "/").endswith(suffix) and key[2] == name:
            return key
    return None


def _cumulative(stats: dict, suffix: str, name: str) -> float:
    key = _find(stats, suffix, name)
    return stats[key][3] if key else 0.0


def _handing_over(stats: dict) -> float:
    key = _find(stats, _HAND_OVER[0], _HAND_OVER[1])
    if key is None:
        return 0.0
    callers = stats[key][4]
    return sum(v[3] for caller, v in callers.items() if caller[0].replace("\\", "/").endswith(_HAND_OVER[2]))


def _label(key: tuple) -> str:
    filename, line, name = key
    if filename == "~":
        return name
    parts = filename.replace("\\", "/").split("/")
    # A code object's file may be a bare name: "<string>" for code run by ``python -c``.
    folder = parts[-2] if len(parts) > 1 else ""
    short = "/".join(parts[-2:]) if folder in ("upload", "cli", "archive") else parts[-1]
    return f"{name} ({short}:{line})"


def summarize(path: Path, top: int = 15) -> list[str]:
    """Markdown lines: the main thread's split by activity, and its top functions by cumulative time."""
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    total = _cumulative(stats, *_TOTAL) or max(v[3] for v in stats.values())
    rows = []
    for activity, suffix, name in ACTIVITIES:
        seconds = _cumulative(stats, suffix, name)
        if seconds:
            rows.append(f"| {activity} | {seconds:.2f} | {100 * seconds / total:.0f}% |")
            if name == "send_packs" and (waiting := _handing_over(stats)):
                rows.append(f"| … of which waiting for the deflate thread | {waiting:.2f} | "
                            f"{100 * waiting / total:.0f}% |")
    ranked = sorted(stats.items(), key=lambda item: item[1][3], reverse=True)[:top]
    return [
        f"## Main thread, exactly (cProfile: {total:.2f} s in the command)",
        "",
        "| activity | seconds | share |",
        "|---|---|---|",
        *rows,
        "",
        "| function | calls | cumulative s | own s |",
        "|---|---|---|---|",
        *(f"| `{_label(key)}` | {v[1]} | {v[3]:.2f} | {v[2]:.2f} |" for key, v in ranked),
        "",
    ]
