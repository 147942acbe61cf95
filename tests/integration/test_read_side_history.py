"""The read side end to end, what changes a run's standing or compares runs: pin and unpin, diff,
cost; and untimestamped uploads read as runs, and every read command's help."""

from __future__ import annotations

import json

import pytest

from artifact_backup.cli import main
from tests.support.archive_cli import GB, MANAGED, RUN_A, RUN_B, files_under

pytestmark = pytest.mark.integration


# -- pin, unpin --------------------------------------------------------------------------------------


def test_pin_and_unpin_retag_every_object_keep_managed_and_show_the_note(archive):
    archive.file(RUN_A)
    archive.file(RUN_B, include=("logs",))
    record, other = archive.record(RUN_A), archive.record(RUN_B)
    note = "Final production run - DO NOT DELETE"

    data = archive.cli_json("pin", archive.project, RUN_A, "--note", note)
    assert data["result"]["objects_tagged"] == len(record.files)
    for f in record.files:
        assert archive.tags(f.key) == [MANAGED, {"Key": "artifact-backup:retention", "Value": "pinned"}]
    for f in other.files:
        assert {"Key": "artifact-backup:retention", "Value": "standard"} in archive.tags(f.key)
    stored = json.loads(archive.s3.get_object(
        Bucket=archive.bucket, Key=f"{archive.project}/_runs/{RUN_A}/pin.json")["Body"].read())
    assert (stored["pinned"], stored["note"], stored["run_id"]) == (True, note, record.run_id)

    runs = {r["run"]: r for r in archive.cli_json("runs", archive.project)["runs"]}
    assert runs[RUN_A]["pinned"] is True
    assert runs[RUN_A]["pin"]["note"] == note
    assert runs[RUN_B]["pinned"] is False
    code, out, _ = archive.cli("runs", archive.project)
    assert note in next(line for line in out.splitlines() if line.startswith(RUN_A))

    code, _, err = archive.cli("pin", archive.project, RUN_A, "--note", "  ")
    assert code == 2
    assert "--note" in err

    archive.cli_json("unpin", archive.project, RUN_A, "--note", "superseded")
    for f in record.files:
        assert archive.tags(f.key) == [MANAGED, {"Key": "artifact-backup:retention", "Value": "standard"}]
    runs = {r["run"]: r for r in archive.cli_json("runs", archive.project)["runs"]}
    assert runs[RUN_A]["pinned"] is False


# -- diff --------------------------------------------------------------------------------------------


def test_diff_shows_the_config_change_first_then_files_per_type(archive):
    archive.file(RUN_A)
    archive.write_config(sigma="1.5")
    log = archive.folder / "logs" / "process_log.txt"
    log.write_text(log.read_text() + "one more line\n")
    (archive.folder / "logs" / "new_step.log").write_text("added in the second run\n")
    (archive.folder / "report" / "report.html").unlink()
    archive.file(RUN_B)

    result = archive.cli_json("diff", archive.project, RUN_A, RUN_B)["result"]
    main_config = result["config"][0]
    assert main_config["main"] is True
    assert main_config["path"] == "config.yaml"
    assert "-  sigma: 1.0\n" in main_config["diff"]
    assert "+  sigma: 1.5\n" in main_config["diff"]
    assert result["config_changed"] is True
    types = result["types"]
    assert [c["path"] for c in types["logs"]["changed"]] == ["process_log.txt"]
    assert [c["path"] for c in types["logs"]["added"]] == ["new_step.log"]
    assert [c["path"] for c in types["report"]["removed"]] == ["report.html"]
    assert "settings.json" not in json.dumps(types.get("config", {}))
    assert result["unchanged"]["logs"] == 4

    code, out, _ = archive.cli("diff", archive.project, RUN_A, RUN_B)
    assert code == 0
    assert out.index("+  sigma: 1.5") < out.index("Files:") < out.index("~ logs/process_log.txt")
    assert "+ logs/new_step.log" in out
    assert "- report/report.html" in out

    same = archive.cli_json("diff", archive.project, RUN_B, RUN_B)["result"]
    assert same["identical"] is True
    assert same["config"] == []


# -- cost --------------------------------------------------------------------------------------------


def test_cost_from_known_sizes_with_prices_from_config(archive):
    archive.cost_block = (
        "cost:\n  storage_gb_month: {STANDARD: 1.0, GLACIER: 0.25}\n  download_gb: 2.0\n"
        "  get_per_1000: 1.0\n  transition_per_1000: {GLACIER: 10.0}\n  retrieval_gb: {GLACIER: 0.5}\n"
        "  restore_per_1000: {GLACIER: 20.0}\n  min_transition_kb: 32\n"
    )
    archive.write_config(sigma="1.0")
    archive.file(RUN_A, include=("config", "logs", "report", "gis_data"))
    record = archive.record(RUN_A)
    records = archive.s3.list_objects_v2(Bucket=archive.bucket, Prefix=f"{archive.project}/_runs/")
    record_sizes = [o["Size"] for o in records["Contents"]]

    result = archive.cli_json("cost", archive.project)["result"]
    sizes = [f.size for f in record.files]
    total = sum(sizes) + sum(record_sizes)
    assert result["now"]["total"]["bytes"] == total
    assert result["now"]["total"]["objects"] == len(sizes) + len(record_sizes)
    assert result["now"]["total"]["monthly"] == pytest.approx(total / GB * 1.0, rel=1e-6)
    assert result["now"]["by_class"] == {"STANDARD": result["now"]["total"]}
    for type_name in ("config", "logs", "report", "gis_data"):
        want = sum(f.size for f in record.files if f.type == type_name)
        assert result["now"]["by_type"][type_name]["bytes"] == want

    moving = [s for s in sizes if s >= 32 * 1024]
    staying = sum(sizes) - sum(moving) + sum(record_sizes)
    assert moving, "the sample project has artifacts above the transition minimum"
    after = result["after_transition"]
    assert after["by_class"]["GLACIER"]["objects"] == len(moving)
    overhead = len(moving) * (32 * 1024 * 0.25 + 8 * 1024 * 1.0) / GB
    expected_after = staying / GB * 1.0 + sum(moving) / GB * 0.25 + overhead
    assert after["total"]["monthly"] == pytest.approx(expected_after, rel=1e-6)
    requests = result["requests"]
    assert requests["transition"]["requests"] == len(moving)
    assert requests["transition"]["cost"] == pytest.approx(len(moving) * 10.0 / 1000)
    assert requests["download_all"]["requests"] == len(sizes)
    assert requests["download_all"]["cost"] == pytest.approx(len(sizes) / 1000 + sum(sizes) / GB * 2.0)
    restore = requests["restore_all_after_transition"]
    assert restore["cost"] == pytest.approx(len(moving) * 20.0 / 1000 + sum(moving) / GB * 0.5)

    code, out, _ = archive.cli("cost", archive.project)
    assert code == 0
    assert out.index("Now:") < out.index("After the transition to GLACIER") < out.index("One-off requests:")
    assert "cost: in config.yaml" in out


# -- untimestamped uploads, and reading without a config file -----------------------------------------


def test_untimestamped_upload_is_a_run_named_by_its_id(archive, monkeypatch):
    result = archive.file(False, include=("logs",))
    runs = archive.cli_json("runs", archive.project)["runs"]
    assert [r["run"] for r in runs] == [result.run_id]
    assert runs[0]["timestamp"] is None

    shown = archive.cli_json("show", archive.project, result.run_id[:8])
    assert shown["run_id"] == result.run_id
    target = archive.root / "plain"
    assert archive.cli("download", archive.project, result.run_id, "--to", str(target))[0] == 0
    assert files_under(target)["logs/enhance_log.csv"] == archive.local("logs", "enhance_log.csv")

    # an operator's machine without config.yaml: --bucket and the AWS options suffice
    elsewhere = archive.root / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    archive.capsys.readouterr()
    assert main(["runs", archive.project, "--bucket", archive.bucket,
                 "--endpoint-url", archive.stack.endpoint_url, "--json"]) == 0
    assert json.loads(archive.capsys.readouterr().out)["runs"][0]["run_id"] == result.run_id


def test_every_read_command_has_help_with_examples(capsys):
    for command in ("runs", "show", "download", "restore", "diff", "pin", "unpin", "cost"):
        assert main([command, "--help"]) == 0
        out = capsys.readouterr().out
        assert "Examples:" in out, command
        assert f"artifact-backup {command}" in out, command
