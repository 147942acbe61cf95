"""The filing's profile: its steps split the wall clock and the CPU spent, a missed filing target
points at it, and the step child really times a filing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import filing_profile
from bench._filer_invoke import MARKS_VAR, SERVER_PID_VAR
from bench.targets_peers import filing_target, missed_filings

REPO = Path(__file__).resolve().parents[2]

#: [step, wall s, filer CPU s, server CPU s], as bench._filer_invoke writes them (copies reach
#: "object-filed" from worker threads, so marks may come out of order).
MARKS = [
    ["start", 0.0, 1.0, 10.0],
    ["manifest-read", 0.5, 1.1, 10.2],
    ["verified", 8.5, 4.0, 20.0],
    ["claimed", 8.6, 4.1, 20.1],
    ["object-filed", 12.0, 4.5, 26.0],
    ["object-filed", 9.0, 4.2, 21.0],
    ["filed", 16.5, 5.0, 33.0],
    ["recorded", 16.7, 5.1, 33.2],
    ["end", 17.0, 5.2, 33.4],
]


def test_phases_run_from_each_step_to_the_next_leaving_per_file_marks_out() -> None:
    split = filing_profile.phases(MARKS)
    assert [step for step, *_ in split] == [
        "manifest-read", "verified", "claimed", "filed", "recorded", "end"]
    verify = dict((step, rest) for step, *rest in split)["verified"]
    assert verify == pytest.approx([8.0, 2.9, 9.8])
    filed = dict((step, rest) for step, *rest in split)["filed"]
    assert filed == pytest.approx([7.9, 0.9, 12.9])
    assert sum(wall for _, wall, _, _ in split) == pytest.approx(17.0)


def test_the_steps_table_names_the_steps_and_sets_the_copy_beside_them() -> None:
    summary_rows = {
        "s5cmd server copy": {"wall_s": 8.0, "cpu_s": 0.3, "server_cpu_s": 12.9},
        "ours filer": {"wall_s": 17.5, "handler_s": 16.9, "server_cpu_s": 23.7},
    }
    table = "\n".join(filing_profile.steps_table(MARKS, summary_rows))
    verify = "| 5. every piece read and checked (SHA-256, CRC64NVME, pack members) |"
    assert f"{verify} 8.00 | 47% | 2.90 | 9.80 |" in table
    assert "| **the filing** | **17.00** | 100% | **4.20** | **23.40** |" in table
    copy = "| s5cmd server-side copy of the same objects (median of the run) |"
    assert f"{copy} 8.00 | | 0.30 | 12.90 |" in table
    assert "| ours filer, handler (median of the run) | 16.90 |" in table


def test_the_summary_puts_the_steps_before_the_threads() -> None:
    raw = "thread (0x1): MainThread;main (bench/_filer_invoke.py:30);_api_call (botocore/client.py:1) 50\n"
    text = filing_profile.summarize(MARKS, raw, "ours filer, gis", 17.5, {})
    assert text.startswith("# Profile: ours filer, gis\n\nThe filer (one invocation of its handler)")
    assert text.index("## Steps of the filing") < text.index("## Main thread, sampled")
    assert "## All threads" in text


def test_a_missed_filing_points_at_its_profile_and_is_the_one_profiled() -> None:
    summary = {"gis": {"ours filer": {"wall_s": 17.5, "handler_s": 16.9},
                       "s5cmd server copy": {"wall_s": 8.0}}}
    missed = filing_target(summary, "gis", {"gis filing": "bench/profiles/moto-gis-filing.md"})
    assert missed.met is False
    assert "bench/profiles/moto-gis-filing.md" in missed.detail
    assert "--profile" in filing_target(summary, "gis").detail
    assert missed_filings(summary) == ["gis"]
    summary["gis"]["ours filer"]["handler_s"] = 7.5
    assert filing_target(summary, "gis").met is True
    assert "profile" not in filing_target(summary, "gis").detail
    assert missed_filings(summary) == []


@pytest.mark.integration
@pytest.mark.moto_api
def test_the_step_child_times_a_real_filing(tmp_path: Path) -> None:
    """``bench._filer_invoke`` with its marks on files a run on the local stack and marks every step,
    server CPU included."""
    pytest.importorskip("psutil")
    from bench import data
    from bench.runner import GROUP_OURS, Bench, Scenario
    from bench.server import SERVERS

    dataset = data.small_files(tmp_path / "data", 12, seed="steps")
    scenario = Scenario("small", dataset, ("logs",), (GROUP_OURS,))
    with SERVERS["moto"]() as server:
        (tmp_path / "work").mkdir()
        bench = Bench(server, tmp_path / "work", 120.0, progress=lambda line: None)
        marks_path = tmp_path / "marks.json"
        filing_profile._filed(bench, scenario, "steps", [],
                              {MARKS_VAR: str(marks_path), SERVER_PID_VAR: str(server.pid)})
    marks = json.loads(marks_path.read_text())["marks"]
    steps = [m[0] for m in marks]
    assert steps[0] == "start"
    assert steps[-1] == "end"
    assert {"verified", "claimed", "filed", "recorded", "receipted"} <= set(steps)
    assert all(later[1] >= earlier[1] for earlier, later in zip(marks, marks[1:], strict=False)
               if "object-filed" not in (earlier[0], later[0]))
    assert marks[-1][3] > marks[0][3], "the server spent no CPU on the filing"
