"""RESULTS.md holds one section per S3 server: a run on one server must not erase the other's.

Rendering only, from results dicts shaped as ``python -m bench`` writes them; no server runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import results_md
from bench.cli import latest_json


def _results(backend: str | None, started: str, commit: str, wall: float) -> dict[str, Any]:
    plan: dict[str, Any] = {"reps": 1 if backend == "localstack" else 3}
    if backend is not None:
        plan["backend"] = backend
    row = {
        "runs": plan["reps"], "wall_s": wall, "wall_s_min": wall, "wall_s_max": wall, "cpu_s": 0.5,
        "peak_rss_mb": 60.0, "peak_rss_mb_max": 61.0, "requests": 2, "connections": 3,
        "bytes_sent": 4.5e6, "server_cpu_s": 0.03, "ratio_vs_ours": 1.0,
    }
    return {
        "command": f"python -m bench --backend {backend}" if backend else "python -m bench",
        "started": started,
        "duration_s": 600.0,
        "machine": {
            "cpu": "Test CPU", "cores": 2, "ram_gb": 8.0, "os": "Linux 6", "python": "3.11.7",
            "aws": "aws-cli/1", "s5cmd": "v2", "packages": {"boto3": "1"}, "commit": commit,
            "load_average_1m": 0.1, "load_average_1m_end": 1.2,
        },
        "plan": plan,
        "datasets": {"small": {"files": 2000, "bytes": 16.1e6, "by_type": {"logs": 2000}}},
        "summary": {"small": {"ours upload": row}},
        "targets": [{"name": "small: ours upload sends <= 10 requests", "threshold": "<= 10",
                     "measured": "2", "met": True, "detail": "counted at the server"}],
        "errors": [],
    }


MOTO = _results(None, "2026-11-26 01:30 UTC", "bd0d0b1", 1.04)
LOCALSTACK = _results("localstack", "2026-12-07 05:00 UTC", "abc1234", 2.71)


def _section(document: str, backend: str) -> str:
    return results_md.kept_sections(document)[backend]


def test_each_server_gets_its_own_section_with_its_own_header() -> None:
    doc = results_md.document({"localstack": LOCALSTACK, "moto": MOTO})
    assert doc.index("\n## moto\n") < doc.index("\n## localstack\n")
    moto, localstack = _section(doc, "moto"), _section(doc, "localstack")
    assert "2026-11-26 01:30 UTC" in moto
    assert "(commit bd0d0b1); medians of 3" in moto
    assert "- S3 server: moto" in moto
    assert "| ours upload | 1.04 |" in moto
    assert "2026-12-07 05:00 UTC" in localstack
    assert "(commit abc1234); one repetition, so no medians." in localstack
    assert "- S3 server: localstack" in localstack
    assert "| ours upload | 2.71 |" in localstack
    assert "1.04" not in localstack
    assert "2.71" not in moto
    assert doc.count("### Targets") == 2


def test_a_run_on_one_server_keeps_the_others_section_verbatim(tmp_path: Path) -> None:
    md = tmp_path / "RESULTS.md"
    md.write_text(results_md.document({"moto": MOTO}))
    before = _section(md.read_text(), "moto")
    missing = {"moto": tmp_path / "latest.json", "localstack": tmp_path / "latest-localstack.json"}

    results_md.write(md, LOCALSTACK, missing)
    after = md.read_text()
    assert _section(after, "moto") == before
    assert "| ours upload | 2.71 |" in _section(after, "localstack")

    rerun = _results("localstack", "2026-12-08 05:00 UTC", "def5678", 3.33)
    results_md.write(md, rerun, missing)
    assert _section(md.read_text(), "moto") == before
    localstack = _section(md.read_text(), "localstack")
    assert "def5678" in localstack
    assert "abc1234" not in localstack


def test_the_others_section_is_rendered_from_its_json_unless_that_is_older(tmp_path: Path) -> None:
    md = tmp_path / "RESULTS.md"
    md.write_text(results_md.document({"moto": MOTO}))
    latest = {"moto": tmp_path / "latest.json", "localstack": tmp_path / "latest-localstack.json"}

    newer = _results(None, "2026-12-01 10:00 UTC", "fedcba9", 0.99)
    latest["moto"].write_text(json.dumps(newer))
    results_md.write(md, LOCALSTACK, latest)
    assert "| ours upload | 0.99 |" in _section(md.read_text(), "moto")

    md.write_text(results_md.document({"moto": MOTO}))
    latest["moto"].write_text(json.dumps(_results(None, "2026-11-01 10:00 UTC", "0ld0000", 9.99)))
    results_md.write(md, LOCALSTACK, latest)
    assert "| ours upload | 1.04 |" in _section(md.read_text(), "moto")


def test_the_rendering_is_stable_when_read_back() -> None:
    doc = results_md.document({"moto": MOTO, "localstack": LOCALSTACK})
    assert results_md.document(results_md.kept_sections(doc)) == doc


def test_the_committed_results_render_back_unchanged() -> None:
    committed = (Path(results_md.__file__).parent / "RESULTS.md").read_text(encoding="utf-8")
    assert "moto" in results_md.kept_sections(committed)
    assert results_md.document(results_md.kept_sections(committed)) == committed


def test_each_server_has_its_own_results_file() -> None:
    assert latest_json("moto").name == "latest.json"
    assert latest_json("localstack").name == "latest-localstack.json"
    assert latest_json("localstack", smoke=True).name == "smoke-localstack.json"
