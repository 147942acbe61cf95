"""The large-data parts of the benchmark without a server: the GIS data, the targets against the
fastest peer, rclone's environment-only configuration and the profile's classification."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from bench import data, main_thread, spy
from bench.peers import rclone_environment
from bench.targets_peers import (
    client_rss_target,
    fastest_peer_target,
    missed_scenarios,
    peer_targets,
    verify_target,
)

MiB = data.MiB


def _row(wall: float, rss: float = 80.0) -> dict[str, Any]:
    return {"runs": 3, "wall_s": wall, "peak_rss_mb_max": rss, "cpu_s": 1.0}


def test_log_spread_runs_from_kilobytes_to_the_largest_and_adds_up() -> None:
    sizes = data.log_spread(300, 1536 * MiB, 1024, 256 * MiB)
    assert len(sizes) == 300
    assert sizes[0] == 1024
    assert sizes[-1] == 256 * MiB
    assert sizes == sorted(sizes)
    assert abs(sum(sizes) - 1536 * MiB) < 0.01 * 1536 * MiB
    assert sum(1 for s in sizes if s < MiB) > 150  # most files small, as in a geodatabase


def test_gis_folder_is_a_gdb_and_a_gpkg_and_the_same_every_time(tmp_path: Path) -> None:
    first = data.gis_folder(tmp_path / "a", 16 * MiB, members=20)
    second = data.gis_folder(tmp_path / "b", 16 * MiB, members=20)
    gis = first.project / "gis_data"
    gdb = sorted(p.name for p in (gis / "survey.gdb").iterdir())
    assert len(gdb) == 21
    assert "gdb" in gdb
    assert not any(name.endswith(".lock") for name in gdb)
    assert (gis / "orthomosaic.gpkg").stat().st_size == int(16 * MiB * data.GPKG_SHARE)
    assert first.files == 22
    assert first.by_type == {"gis_data": 22}

    def digest(project: Path) -> str:
        h = hashlib.sha256()
        for path in sorted(project.rglob("*")):
            if path.is_file():
                h.update(path.relative_to(project).as_posix().encode() + path.read_bytes())
        return h.hexdigest()

    assert digest(first.project) == digest(second.project)


def test_ours_against_the_fastest_peer_names_it_and_points_at_the_profile() -> None:
    summary = {"gis": {"ours upload": _row(12.0), "aws s3 sync": _row(10.0), "rclone copy": _row(8.0)}}
    missed = fastest_peer_target(summary, "gis", {"gis": "bench/profiles/moto-gis.md"})
    assert missed.met is False
    assert missed.measured == "1.50x"
    assert "rclone copy 8.00 s" in missed.detail
    assert "bench/profiles/moto-gis.md" in missed.detail
    assert "--profile" in fastest_peer_target(summary, "gis", {}).detail
    summary["gis"]["ours upload"] = _row(7.9)
    met = fastest_peer_target(summary, "gis", {})
    assert met.met is True
    assert "profile" not in met.detail
    assert fastest_peer_target(summary, "large", {}).met is None


def test_an_upload_verdict_says_whether_it_stands_clear_of_the_runs_spread() -> None:
    def spread(wall: float, low: float, high: float) -> dict[str, Any]:
        return {**_row(wall), "wall_s_min": low, "wall_s_max": high}

    summary = {"gis": {"ours upload": spread(19.9, 18.2, 38.4), "boto3 CRT": spread(17.9, 16.8, 21.2)}}
    overlapping = fastest_peer_target(summary, "gis", {})
    assert overlapping.met is False
    assert "within the noise" in overlapping.detail
    assert "ours 18.20-38.40 s, boto3 CRT 16.80-21.20 s over 3 and 3 runs" in overlapping.detail
    summary["gis"]["ours upload"] = spread(15.0, 14.5, 16.0)
    clear = fastest_peer_target(summary, "gis", {})
    assert clear.met is True
    assert "clear of the noise" in clear.detail
    summary["gis"]["ours upload"] = spread(25.0, 24.0, 26.0)
    assert "clear of the noise" in fastest_peer_target(summary, "gis", {}).detail


def test_client_memory_is_judged_on_its_worst_process_in_any_scenario() -> None:
    summary = {
        "gis": {"ours upload": _row(1.0, rss=149.0), "rclone copy": _row(1.0, rss=400.0)},
        "verify": {"ours verify": _row(1.0, rss=151.0)},
    }
    target = client_rss_target(summary, {})
    assert target.met is False
    assert target.measured == "151 MB"
    assert "ours verify on verify" in target.detail
    summary["verify"]["ours verify"] = _row(1.0, rss=60.0)
    assert client_rss_target(summary, {}).met is True  # rclone's memory is not ours


def test_verify_without_deep_is_not_measurable_rather_than_failed() -> None:
    summary = {"verify": {"ours verify": _row(100.0)}}
    target = verify_target(summary, "verify")
    assert target.met is None
    assert target.measured == "not measurable"
    summary["verify"]["ours verify --deep"] = _row(100.0)
    summary["verify"]["ours verify"] = _row(25.0)
    assert verify_target(summary, "verify").met is False
    summary["verify"]["ours verify"] = _row(20.0)
    assert verify_target(summary, "verify").measured == "5.0x"
    assert verify_target(summary, "verify").met is True


def test_the_scenarios_to_profile_are_those_that_missed() -> None:
    summary = {
        "gis": {"ours upload": _row(12.0), "s5cmd cp": _row(10.0)},
        "large": {"ours upload": _row(3.0), "boto3 CRT": _row(3.5)},
        "small": {"ours upload": _row(1.0, rss=200.0)},
    }
    assert missed_scenarios(summary) == ["gis", "small"]
    names = [t.name for t in peer_targets(summary)]
    assert "gis: ours upload <= 1.0x the fastest peer" in names


def test_rclone_is_configured_by_environment_alone(tmp_path: Path) -> None:
    env = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "us-east-1"}
    out = rclone_environment(env, "http://127.0.0.1:1234", tmp_path / "none.conf")
    assert out["RCLONE_CONFIG"] == str(tmp_path / "none.conf")
    assert not (tmp_path / "none.conf").exists()
    assert out["RCLONE_CONFIG_BENCH_TYPE"] == "s3"
    assert out["RCLONE_CONFIG_BENCH_PROVIDER"] == "Other"
    assert out["RCLONE_CONFIG_BENCH_ENDPOINT"] == "http://127.0.0.1:1234"
    assert out["RCLONE_CONFIG_BENCH_ACCESS_KEY_ID"] == "k"


RAW = "\n".join(
    [
        "thread (0x1): MainThread;<module> (<string>:1);main (artifact_backup/cli/__init__.py:196);"
        "Future.result (concurrent/futures/_base.py:451);Condition.wait (threading.py:327) 300",
        "thread (0x1): MainThread;<module> (<string>:1);"
        "_find_and_load (<frozen importlib._bootstrap>:1176) 50",
        "thread (0x2);Thread.run (threading.py:982);hash_file (artifact_backup/pack.py:140) 120",
        "thread (0x3);Thread.run (threading.py:982);_Deflater._run (artifact_backup/pack.py:195);"
        "GzipFile.write (gzip.py:289) 80",
        "thread (0x4);Thread.run (threading.py:982);HTTPConnection.send (http/client.py:1009);"
        "SSLSocket.sendall (ssl.py:1200) 60",
        "thread (0x5);Thread.run (threading.py:982);_worker (concurrent/futures/thread.py:81) 400",
        "thread (0x1): MainThread 20",
        "thread (0x6);Thread.run (threading.py:982);FileSpool._add (artifact_contract/spool.py:189) 10",
    ]
)


def test_samples_are_classified_from_the_innermost_frame_out() -> None:
    samples = spy.parse(RAW)
    kinds = {thread: spy.category(frames) for thread, frames, _ in samples if "MainThread" not in thread}
    assert kinds == {
        "thread (0x2)": spy.HASHING,
        "thread (0x3)": spy.PACKING,
        "thread (0x4)": spy.NETWORK,
        "thread (0x5)": spy.WAITING,
        "thread (0x6)": spy.MANIFEST,
    }


def test_the_summary_splits_the_main_thread_and_ranks_busy_functions() -> None:
    text = spy.summarize(RAW, "ours upload, gis", wall_s=3.5)
    main = text.split("## Main thread, sampled (py-spy)")[1].split("##")[0]
    assert f"| {spy.WAITING} | 3.00 | 81% |" in main
    assert f"| {spy.IMPORTS} | 0.50 | 14% |" in main
    assert f"| {spy.NATIVE} | 0.20 | 5% |" in main
    assert spy.HASHING not in main
    everywhere = text.split("## All threads")[1].split("##")[0]
    assert f"| {spy.HASHING} | 1.20 |" in everywhere
    top = text.split("## Top functions by cumulative time")[1]
    assert "`hash_file (artifact_backup/pack.py:140)` | 1.20 |" in top
    assert "_worker" not in top  # idle pool threads are not busy


def _compiled(filename: str, source: str, namespace: dict[str, Any]) -> None:
    exec(compile(source, filename, "exec"), namespace)  # cProfile keys functions by their code's file


def test_the_exact_main_thread_split_reads_the_clients_functions(tmp_path: Path) -> None:
    import cProfile
    import queue

    space: dict[str, Any] = {"queue": queue}
    _compiled("/x/artifact_backup/pack.py", "def hand_over(q):\n    q.put(1)\n    q.get()\n", space)
    _compiled("/x/artifact_backup/upload/pack_task.py",
              "def send_packs(q):\n    for _ in range(200):\n        hand_over(q)\n", space)
    _compiled("/x/artifact_backup/cli/__init__.py",
              "def main():\n    send_packs(queue.Queue())\n    return 0\n", space)
    profile = cProfile.Profile()
    profile.runcall(space["main"])
    path = tmp_path / "main.pstats"
    profile.dump_stats(str(path))
    lines = main_thread.summarize(path)
    assert lines[0].startswith("## Main thread, exactly (cProfile: ")
    packing = [line for line in lines if line.startswith("| packing")]
    assert len(packing) == 1
    assert int(packing[0].rsplit("|", 2)[1].strip().rstrip("%")) >= 90  # main does little else
    assert any(line.startswith("| … of which waiting for the deflate thread") for line in lines)
    assert not any(line.startswith("| manifest") for line in lines)  # not called, not shown
    assert any("`send_packs (upload/pack_task.py:1)` | 1 |" in line for line in lines)


def test_the_exact_split_names_code_run_from_a_bare_file_name(tmp_path: Path) -> None:
    """``python -c`` code (the benchmark's CLI boot) is keyed by "<string>", with no folder."""
    import cProfile

    space: dict[str, Any] = {}
    _compiled("<string>", "def boot():\n    return sum(range(100000))\n", space)
    profile = cProfile.Profile()
    profile.runcall(space["boot"])
    path = tmp_path / "boot.pstats"
    profile.dump_stats(str(path))
    assert any("`boot (<string>:1)` | 1 |" in line for line in main_thread.summarize(path))


def test_read_through_reads_every_file_of_a_folder(tmp_path: Path) -> None:
    (tmp_path / "a.gdb").mkdir()
    (tmp_path / "a.gdb" / "a00000001.gdbtable").write_bytes(b"x" * 3_000_000)
    (tmp_path / "b.log").write_bytes(b"y" * 10)
    assert data.read_through(tmp_path, chunk=1024 * 1024) == 3_000_010


def test_the_manifest_reader_and_checks_count_as_the_manifest() -> None:
    for frame in ("Walk.value (artifact_contract/manifest_json.py:120)",
                  "FileChecker.__call__ (artifact_contract/manifest_checks.py:190)",
                  "write_run_record (artifact_contract/record_writer.py:48)"):
        assert spy.category(["Thread.run (threading.py:982)", frame]) == spy.MANIFEST
