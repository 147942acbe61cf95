"""How messages name a run: by its timestamp, by its run id when it has none, or all of them."""

from __future__ import annotations

#: The RUN argument of ``download`` that names every run.
ALL_RUNS = "all"


def run_words(timestamp: str | None, run_id: str | None = None) -> str:
    """``run 20251030_1430``; an upload without a timestamp is named by its run id, and says so."""
    if timestamp:
        return f"run {timestamp}"
    if run_id:
        return f"run {run_id} (no timestamp)"
    return "the run (no timestamp)"


def run_argument_words(run: str) -> str:
    """A RUN argument as a message names it: ``every run`` for ``all``."""
    return "every run" if run == ALL_RUNS else f"run {run}"
