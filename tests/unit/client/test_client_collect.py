"""Which files each type keeps, what is dropped, and the errors a folder can cause."""

from __future__ import annotations

import os
import sys

import pytest
from client_support import write

from artifact_backup import (
    ArgumentInvalidError,
    FileNameInvalidError,
    FileUnreadableError,
    FolderNotFoundError,
    SelectionEmptyError,
    collect_files,
)
from artifact_backup.config import settings_from_mapping


def paths(selection):
    return [f.member_name for f in selection.files]


def test_types_from_config_and_case_insensitive_extensions(project, settings):
    sel = collect_files(project, settings=settings)
    assert sel.types == ("config", "logs", "report")
    assert paths(sel) == [
        "config/settings.json",
        "logs/enhance_log.csv",
        "logs/exiftool_log.txt",
        "logs/nested/mosaic_processor_output.LOG",
        "logs/process_log.txt",
        "report/assets/chart.PNG",
        "report/report.html",
        "report/report_data_RMI25320.json",
    ]
    assert [(d.type, d.path) for d in sel.dropped] == [("logs", "core.dump"), ("report", "notes.docx")]
    assert sel.files_per_type() == {"config": 1, "logs": 4, "report": 3}
    assert sel.total_bytes == sum(f.size for f in sel.files)


def test_include_overrides_config(project, settings):
    sel = collect_files(project, settings=settings, include=["logs"])
    assert sel.types == ("logs",)
    assert all(p.startswith("logs/") for p in paths(sel))


def test_unknown_include_type(project, settings):
    with pytest.raises(ArgumentInvalidError, match="--include: unknown artifact type 'log'"):
        collect_files(project, settings=settings, include=["log"])


def test_gdb_folder_is_kept_whole(tmp_path):
    root = tmp_path / "p"
    write(root / "gis_data" / "centerline.gdb" / "a00000001.gdbtable")
    write(root / "gis_data" / "centerline.gdb" / "timestamps")
    write(root / "gis_data" / "roads.SHP")
    write(root / "gis_data" / "readme.md")
    sel = collect_files(root, include=["gis_data"])
    assert paths(sel) == [
        "gis_data/centerline.gdb/a00000001.gdbtable",
        "gis_data/centerline.gdb/timestamps",
        "gis_data/roads.SHP",
    ]
    assert [d.path for d in sel.dropped] == ["readme.md"]


def test_config_file_is_added_under_its_base_name(project, settings, config_file):
    sel = collect_files(project, settings=settings, include=["config"], config_path=config_file)
    assert paths(sel) == ["config/config.yaml", "config/settings.json"]
    assert sel.warnings == ()


def test_config_file_shadows_a_different_file_with_a_warning(project, settings, config_file):
    shadowed = write(project / "config" / "config.yaml", "other: 1\n")
    sel = collect_files(project, settings=settings, include=["config"], config_path=config_file)
    entry = next(f for f in sel.files if f.path == "config.yaml")
    assert entry.source == config_file
    assert len(sel.warnings) == 1
    assert str(shadowed) in sel.warnings[0]


def test_config_file_in_the_config_folder_is_not_a_conflict(project, settings):
    inside = write(project / "config" / "config.yaml", "a: 1\n")
    sel = collect_files(project, settings=settings, include=["config"], config_path=inside)
    assert paths(sel).count("config/config.yaml") == 1
    assert sel.warnings == ()


def test_folder_type_uploads_the_folder_itself(project, config_file):
    sel = collect_files(project / "config", folder_type="config", config_path=config_file)
    assert sel.types == ("config",)
    assert paths(sel) == ["config/config.yaml", "config/settings.json"]


def test_folder_type_and_include_are_exclusive(project):
    with pytest.raises(ArgumentInvalidError, match="cannot be used together"):
        collect_files(project, folder_type="logs", include=["logs"])


def test_artifact_paths_from_config(tmp_path):
    root = tmp_path / "p"
    write(root / "output" / "run" / "a.log")
    settings = settings_from_mapping({"orchestrator": {"artifact_paths": {"logs": "output/run"}}}, environ={})
    assert paths(collect_files(root, settings=settings, include=["logs"])) == ["logs/a.log"]


def test_missing_folder(tmp_path):
    with pytest.raises(FolderNotFoundError, match="folder not found"):
        collect_files(tmp_path / "missing", include=["logs"])


@pytest.mark.skipif(os.name == "nt", reason="a drive path exists on Windows")
def test_windows_drive_folder_on_posix_is_a_clear_error():
    with pytest.raises(FolderNotFoundError) as err:
        collect_files("D:/Process360_Data/projects/RMI25320", include=["logs"])
    assert str(err.value) == "folder not found: D:/Process360_Data/projects/RMI25320"
    assert "Windows drive path" in err.value.hint
    assert err.value.exit_code == 4


def test_backslash_folder_is_understood(project):
    sel = collect_files(str(project).replace("/", "\\") if os.name != "nt" else project, include=["logs"])
    assert len(sel.files) == 4


def test_nothing_to_upload(tmp_path):
    root = tmp_path / "p"
    write(root / "logs" / "image.tif")
    with pytest.raises(SelectionEmptyError) as err:
        collect_files(root, include=["logs"])
    assert str(err.value).startswith("nothing to upload: no logs files in ")
    assert "1 file(s) were left out by the extension filter" in err.value.hint
    assert collect_files(root, include=["logs"], allow_empty=True).files == ()


def test_missing_type_folder_is_a_warning(project):
    sel = collect_files(project, include=["logs", "gis_data"])
    assert any("no gis_data folder" in w for w in sel.warnings)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX links")
def test_symlinks(project, tmp_path):
    outside = write(tmp_path / "elsewhere" / "shared.log", "shared")
    os.symlink(outside, project / "logs" / "linked.log")
    os.symlink(tmp_path / "elsewhere", project / "logs" / "linked_dir")
    os.symlink(tmp_path / "nowhere.log", project / "logs" / "broken.log")
    sel = collect_files(project, include=["logs"])
    linked = next(f for f in sel.files if f.path == "linked.log")
    assert linked.size == len("shared")
    reasons = {d.path: d.reason for d in sel.dropped}
    assert reasons["linked_dir/"] == "link to a folder"
    assert reasons["broken.log"] == "broken link"


@pytest.mark.skipif(sys.platform != "linux", reason="Linux file names are bytes")
def test_name_that_is_not_utf8(project):
    (project / "logs").joinpath(os.fsdecode(b"bad\xff.log")).write_bytes(b"x")
    with pytest.raises(FileNameInvalidError) as err:
        collect_files(project, include=["logs"])
    assert "not valid UTF-8" in str(err.value)
    assert "bad\\xff.log" in str(err.value)


def test_unreadable_file(project, monkeypatch):
    """Readable by its permission bits (os.access says yes) but refused when opened, as a file
    another program holds exclusively on Windows: found during collection, before anything is sent."""
    real = os.open

    def refusing(path, flags, *args, **kwargs):
        if os.fspath(path).endswith("process_log.txt"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing)
    assert os.access(project / "logs" / "process_log.txt", os.R_OK)
    with pytest.raises(FileUnreadableError, match=r"cannot read 1 file\(s\): .*process_log.txt") as err:
        collect_files(project, include=["logs"])
    assert err.value.exit_code == 4
    assert "another program has it open" in str(err.value)
