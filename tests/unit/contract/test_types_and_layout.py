import pytest

from artifact_contract import (
    ARTIFACT_TYPES,
    DEFAULT_ARTIFACT_TYPES,
    ArtifactTypeUnknownError,
    PathInvalidError,
    ProjectKeyInvalidError,
    TimestampInvalidError,
    archive_key,
    claim_key,
    get_artifact_type,
    legacy_run_record_key,
    manifest_key,
    parse_manifest_key,
    parse_timestamp,
    quarantine_key,
    receipt_key,
    run_record_key,
    type_claim_key,
    validate_project_key,
    validate_relative_path,
)

RUN = "0123456789abcdef0123456789abcdef"

# The user guide's "File Extensions" table, copied by hand so that a change to the contract shows up.
GUIDE_TABLE = {
    "config": ".yaml .yml .json .txt",
    "logs": ".txt .log .csv .args",
    "report": ".html .json .png .jpg .jpeg .pdf",
    "gis_data": ".shp .shx .dbf .prj .cpg .sbn .sbx .xml .geojson .json .kml .kmz .gdb .gpkg",
}


def test_types_are_exactly_the_guides():
    assert set(ARTIFACT_TYPES) == set(GUIDE_TABLE)
    for name, exts in GUIDE_TABLE.items():
        assert ARTIFACT_TYPES[name].extensions == frozenset(exts.split())
    assert DEFAULT_ARTIFACT_TYPES == ("config", "logs", "report")


@pytest.mark.parametrize(
    ("type_name", "path", "kept"),
    [
        ("logs", "process_log.txt", True),
        ("logs", "PROCESS_LOG.TXT", True),
        ("logs", "sub/dir/enhance_log.csv", True),
        ("logs", "exif.args", True),
        ("logs", "image.png", False),
        ("logs", "noextension", False),
        ("logs", "archive.log.gz", False),
        ("report", "assets/chart.PNG", True),
        ("report", "report.html", True),
        ("report", "notes.txt", False),
        ("config", "config.yaml", True),
        ("config", "config.YML", True),
        ("config", "settings.ini", False),
        ("gis_data", "centerline.shp", True),
        ("gis_data", "roads.gdb/a00000001.gdbtable", True),
        ("gis_data", "nested/roads.GDB/timestamps", True),
        ("gis_data", "roads.gdbx/a0001.gdbtable", False),
        ("gis_data", "raster.tif", False),
    ],
)
def test_extension_filter(type_name, path, kept):
    assert get_artifact_type(type_name).allows(path) is kept


@pytest.mark.parametrize(
    "name",
    [".bashrc", "name.", "..", ".", "a.b.c", "a..log", "x.LOG", ".hidden.log", "plain", "a. log", "é.Log"],
)
def test_extension_is_the_one_pathlib_sees(name):
    """The filter reads extensions without building path objects; it must agree with pathlib."""
    from pathlib import PurePosixPath

    expected = PurePosixPath(name).suffix.lower() in ARTIFACT_TYPES["logs"].extensions
    assert get_artifact_type("logs").allows(name) is expected
    assert get_artifact_type("logs").allows(f"sub/{name}") is expected


def test_unknown_type_lists_choices():
    with pytest.raises(ArtifactTypeUnknownError, match="choose from config, logs, report, gis_data"):
        get_artifact_type("reels")


@pytest.mark.parametrize("value", ["20251030_1200", "20240229_2359", "20000101_0000"])
def test_valid_timestamps(value):
    assert parse_timestamp(value).strftime("%Y%m%d_%H%M") == value


@pytest.mark.parametrize(
    "value",
    [
        "20251399_9999",
        "20250230_1200",
        "20251030_2400",
        "20251030_1260",
        "2025103_1200",
        "20251030-1200",
        "20251030_12000",
        " 20251030_1200",
        "",
        "２０２５1030_1200",
    ],
)
def test_invalid_timestamps(value):
    with pytest.raises(TimestampInvalidError):
        parse_timestamp(value)


@pytest.mark.parametrize(
    "key", ["", "a/b", "a\\b", "..", ".", "a..b", "x\x00y", "x\ny", " RMI", "_runs", "x" * 129]
)
def test_bad_project_keys(key):
    with pytest.raises(ProjectKeyInvalidError):
        validate_project_key(key)


def test_good_project_key():
    assert validate_project_key("RMI25320") == "RMI25320"


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/etc/passwd",
        "../x",
        "a/../../x",
        "a/./b",
        "a//b",
        "a\\b",
        "C:/x",
        "c:x",
        "a\x00b",
        "a\x1fb",
        "trailing/",
        "\ud800bad",
    ],
)
def test_bad_relative_paths(path):
    with pytest.raises(PathInvalidError):
        validate_relative_path(path)


def test_layout_keys():
    assert archive_key("RMI25320", "logs", "20251030_1430", "process_log.txt") == (
        "RMI25320/logs/20251030_1430/process_log.txt"
    )
    assert archive_key("RMI25320", "config", None, "config.yaml") == "RMI25320/config/config.yaml"
    assert claim_key("RMI25320", "20251030_1430") == "RMI25320/_runs/20251030_1430/claim.json"
    assert run_record_key("P", "20251030_1430", RUN) == f"P/_runs/20251030_1430/runs/{RUN}.json"
    assert type_claim_key("P", "20251030_1430", "logs") == "P/_runs/20251030_1430/claims/logs.json"
    assert legacy_run_record_key("P", "20251030_1430") == "P/_runs/20251030_1430/run.json"
    assert run_record_key("P", None, RUN) == f"P/_runs/untimestamped/{RUN}.json"
    assert receipt_key("P", RUN) == f"receipts/P/{RUN}.json"
    assert quarantine_key(f"incoming/P/{RUN}/packs/x") == f"quarantine/P/{RUN}/packs/x"


def test_archive_key_refuses_escape():
    with pytest.raises(PathInvalidError):
        archive_key("P", "logs", "20251030_1430", "../../other/x.log")
    with pytest.raises(TimestampInvalidError):
        archive_key("P", "logs", "20251399_9999", "x.log")


def test_manifest_key_round_trip():
    location = parse_manifest_key(manifest_key("RMI25320", RUN))
    assert (location.project_key, location.run_id) == ("RMI25320", RUN)
    assert parse_manifest_key(f"incoming/P/{RUN}/packs/abc.tar.gz") is None
    assert parse_manifest_key("receipts/P/x.json") is None
    with pytest.raises(PathInvalidError):
        parse_manifest_key(f"incoming/P/x/{RUN}/manifest.json")
    with pytest.raises(ProjectKeyInvalidError):
        parse_manifest_key(f"incoming/../{RUN}/manifest.json")


def test_runs_keys_parse_back_to_what_names_them():
    """Readers list ``_runs/`` and must tell records, claims and pin notes apart exactly as the
    key functions name them, and nothing else."""
    from artifact_contract import RunsKey, parse_runs_key, pin_note_key

    ts, rid = "20251030_1430", RUN
    assert parse_runs_key("P1", run_record_key("P1", ts, rid)) == RunsKey("record", ts, rid)
    assert parse_runs_key("P1", legacy_run_record_key("P1", ts)) == RunsKey("record", ts, None)
    assert parse_runs_key("P1", type_claim_key("P1", ts, "report")) == RunsKey("claim", ts, None)
    assert parse_runs_key("P1", claim_key("P1", ts)) == RunsKey("claim", ts, None)
    assert parse_runs_key("P1", pin_note_key("P1", ts, rid)) == RunsKey("pin", ts, None)
    assert parse_runs_key("P1", run_record_key("P1", None, rid)) == RunsKey("record", None, rid)
    assert parse_runs_key("P1", pin_note_key("P1", None, rid)) == RunsKey("pin", None, rid)
    for stray in (
        "P1/_runs/20251399_1430/run.json",  # not a real date
        "P1/_runs/20251030_1430/other.json",
        "P1/_runs/untimestamped/not-a-run-id.json",
        "P1/_runs/untimestamped/" + RUN + "/other.json",
        "P1/_runs/20251030_1430/run.json/x",
        "P2/_runs/20251030_1430/run.json",  # another project
        "P1/logs/20251030_1430/run.json",
        "P1/_runs/20251030_1430/runs/not-a-run-id.json",
        "P1/_runs/20251030_1430/claims/not-a-type.json",
        "P1/_runs/20251030_1430/other/" + RUN + ".json",
    ):
        assert parse_runs_key("P1", stray) is None, stray


@pytest.mark.parametrize("path", ["20251030_1430/settings.yaml", "99999999_9999/a/b.log"])
def test_an_untimestamped_path_in_a_timestamp_folder_is_reserved(path):
    """Its key would lie in a timestamped run's folder (a shape, real date or not): refused."""
    from artifact_contract import PathReservedError, check_untimestamped_path

    with pytest.raises(PathReservedError, match="--custom-timestamp"):
        check_untimestamped_path("P", "config", path)


@pytest.mark.parametrize("path", ["20251030_1430", "20251030_1430.log", "run_20251030_1430/a.log",
                                  "a/20251030_1430/b.log", "2025103_1430/a.log"])
def test_other_untimestamped_paths_are_kept(path):
    from artifact_contract import check_untimestamped_path

    assert check_untimestamped_path("P", "logs", path) == path
