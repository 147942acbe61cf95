"""Paths as Windows names and compares them: folder identity, long paths, junctions, temporary
files that cannot be removed, and the ``--config`` file typed in another case.

The path logic takes its flavour (``ntpath`` or ``posixpath``) as a parameter, so both are checked
on every system; what only a real Windows shows runs where ``sys.platform == "win32"``.
"""

from __future__ import annotations

import logging
import ntpath
import os
import posixpath
import stat
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from client_support import write

from artifact_backup import collect_files
from artifact_backup.journal import Journal, folder_key
from artifact_backup.paths import (
    REPARSE_MOUNT_POINT,
    discard,
    extended_path,
    folder_identity,
    io_path,
    is_link_like,
    strip_extended,
)
from artifact_backup.source_checks import geodatabase_lock, geodatabase_warnings

WINDOWS = sys.platform == "win32"


# -- one folder, however it is typed ----------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["D:/Proj", "d:\\proj", "D:\\PROJ\\", "d:/Proj/./sub/..", "D:\\Proj//"])
def test_windows_compares_folders_without_case_or_separator(spelling):
    assert folder_identity(spelling, ntpath) == folder_identity("D:\\Proj", ntpath) == "d:\\proj"
    assert folder_key(spelling, windows=True) == folder_key("D:/Proj", windows=True)


def test_posix_folders_keep_their_case():
    assert folder_identity("/data/Proj", posixpath) != folder_identity("/data/proj", posixpath)
    assert folder_identity("/data/Proj/", posixpath) == folder_identity("/data/x/../Proj", posixpath)
    assert folder_key("/data/Proj", windows=False) != folder_key("/data/proj", windows=False)


def journal_key(folder) -> str:
    return Journal.key(staging_bucket="s", project_key="P", folder=Path(folder), types=["logs"],
                       folder_type=None, timestamp_mode="now", timestamp_value=None)


def test_journal_key_is_one_for_two_spellings_of_one_folder(tmp_path):
    folder = tmp_path / "Proj"
    folder.mkdir()
    assert journal_key(folder) == journal_key(Path(str(folder) + os.sep + "." + os.sep))
    if WINDOWS:  # Windows's own comparison: another case and forward slashes name the same folder
        assert journal_key(str(folder).upper().replace("\\", "/")) == journal_key(folder)
    else:
        assert journal_key(tmp_path / "proj") != journal_key(folder)


# -- long paths --------------------------------------------------------------------------------------


def test_long_windows_paths_get_the_extended_prefix():
    long = "D:\\data\\" + "\\".join(["folder_" + "x" * 40] * 6) + "\\file.log"
    assert len(long) > 260
    assert extended_path(long, ntpath) == "\\\\?\\" + long
    assert extended_path(long.replace("\\", "/"), ntpath) == "\\\\?\\" + long
    assert extended_path("D:\\short\\file.log", ntpath) == "D:\\short\\file.log"
    unc = "\\\\server\\share\\" + "y" * 260
    assert extended_path(unc, ntpath) == "\\\\?\\UNC\\server\\share\\" + "y" * 260
    assert extended_path("\\\\?\\" + long, ntpath) == "\\\\?\\" + long
    assert extended_path("relative\\" + "z" * 300, ntpath) == "relative\\" + "z" * 300
    assert extended_path("/" + "p" * 300, posixpath) == "/" + "p" * 300
    assert strip_extended(extended_path(long, ntpath)) == long
    assert strip_extended(extended_path(unc, ntpath)) == unc


def test_a_run_in_a_deep_folder_is_collected_and_read(tmp_path):
    deep = tmp_path.joinpath(*["level_" + "d" * 50] * 5, "logs")
    target = Path(io_path(deep / "process_log.txt"))
    target.parent.mkdir(parents=True)
    target.write_bytes(b"deep")
    assert len(str(deep / "process_log.txt")) > 260
    selection = collect_files(deep.parent, include=["logs"])
    try:
        [found] = list(selection.files)
        assert found.path == "process_log.txt"
        with open(found.location, "rb") as handle:
            assert handle.read() == b"deep"
        if WINDOWS:
            assert found.location.startswith("\\\\?\\")
    finally:
        selection.close()


# -- junctions ---------------------------------------------------------------------------------------


def test_a_junction_is_a_link_though_not_a_symlink():
    junction = SimpleNamespace(st_mode=stat.S_IFDIR | 0o755, st_reparse_tag=REPARSE_MOUNT_POINT)
    cloud_folder = SimpleNamespace(st_mode=stat.S_IFDIR | 0o755, st_reparse_tag=0x9000701A)
    plain = SimpleNamespace(st_mode=stat.S_IFDIR | 0o755)
    symlink = SimpleNamespace(st_mode=stat.S_IFLNK | 0o777)
    assert is_link_like(junction)
    assert is_link_like(symlink)
    assert not is_link_like(cloud_folder)
    assert not is_link_like(plain)


class SeenAsJunction:
    """A folder entry whose lstat carries a junction's reparse tag, as Windows reports one; Python
    before 3.12 has no ``DirEntry.is_junction``, so the tag is all there is to go by."""

    def __init__(self, entry: os.DirEntry) -> None:
        self._entry = entry

    def stat(self, *, follow_symlinks: bool = True):
        st = self._entry.stat(follow_symlinks=follow_symlinks)
        return SimpleNamespace(st_mode=st.st_mode, st_reparse_tag=REPARSE_MOUNT_POINT)

    def __getattr__(self, name):
        return getattr(self._entry, name)

    def is_junction(self) -> bool:
        return False


def _real_junction(target: Path, link: Path) -> bool:
    """Make an NTFS junction where Windows can (Wine cannot)."""
    import _winapi

    try:
        _winapi.CreateJunction(str(target), str(link))
    except OSError:
        return False
    return True


def test_a_junctioned_folder_is_not_walked(tmp_path, monkeypatch):
    """On Windows a real junction; where none can be made, the walk is shown a folder as Windows
    reports a junction (the reparse tag of its lstat; ``is_symlink()`` false)."""
    root = tmp_path / "RMI25320"
    write(root / "logs" / "process_log.txt", "ok")
    elsewhere = write(tmp_path / "whole_disk" / "secret.log", "not ours").parent
    link = root / "logs" / "disk"
    if not (WINDOWS and _real_junction(elsewhere, link)):
        import artifact_backup.collect as collect
        from artifact_backup.paths import is_junction

        write(link / "secret.log", "not ours")
        monkeypatch.setattr(collect, "is_junction", lambda entry: is_junction(
            SeenAsJunction(entry) if entry.name == "disk" else entry, windows=True))
    selection = collect_files(root, include=["logs"])
    try:
        assert [f.path for f in selection.files] == ["process_log.txt"]
        assert ("logs", "disk/", "junction (a link to a folder)") in [
            (d.type, d.path, d.reason) for d in selection.dropped]
    finally:
        selection.close()


def test_junction_check_reads_the_reparse_tag_only_on_windows(tmp_path):
    from artifact_backup.paths import is_junction

    (tmp_path / "folder").mkdir()
    [entry] = list(os.scandir(tmp_path))
    assert is_junction(SeenAsJunction(entry), windows=True)
    assert not is_junction(SeenAsJunction(entry), windows=False)
    assert not is_junction(entry)


# -- temporary files ---------------------------------------------------------------------------------


def test_a_temporary_file_that_cannot_be_removed_is_reported_not_raised(tmp_path, caplog):
    held = tmp_path / "artifact-pack-1.tar.gz"
    held.mkdir()  # unlink fails on it, as on a file a virus scanner holds open
    with caplog.at_level(logging.WARNING, logger="artifact_backup"):
        error = discard(held, "pack file")
    assert isinstance(error, OSError)
    assert "cannot remove the pack file" in caplog.text
    assert str(held) in caplog.text
    gone = write(tmp_path / "artifact-pack-2.tar.gz")
    assert discard(gone) is None
    assert not gone.exists()
    assert discard(gone) is None


def test_the_senders_cleanup_keeps_the_runs_own_error(tmp_path):
    from artifact_backup.transfer import Notifier, UploadConfig
    from artifact_backup.upload.sender import PieceSender

    sender = PieceSender(run=None, config=UploadConfig(), notify=Notifier(()))
    held = tmp_path / "held.tar.gz"
    held.mkdir()
    removable = write(tmp_path / "done.tar.gz")
    sender.temp_files += [held, removable]
    def failing_run() -> None:
        try:
            raise RuntimeError("the run's own failure")
        finally:
            sender.remove_temp_files()

    with pytest.raises(RuntimeError, match="the run's own failure"):
        failing_run()
    assert not removable.exists()


# -- the --config file typed in another case ---------------------------------------------------------


def test_config_typed_in_another_case_is_uploaded_once(tmp_path):
    root = tmp_path / "RMI25320"
    on_disk = write(root / "config" / "Config.yaml", "a: 1\n")
    write(root / "config" / "settings.json", "{}")
    if WINDOWS:
        typed = root / "CONFIG" / "config.YAML"
    else:  # one file under a second spelling: what Windows makes of config.yaml
        typed = tmp_path / "elsewhere" / "config.yaml"
        typed.parent.mkdir()
        os.link(on_disk, typed)
    selection = collect_files(root, include=["config"], config_path=typed)
    try:
        assert [f.path for f in selection.files] == ["Config.yaml", "settings.json"]
    finally:
        selection.close()


def test_a_different_config_of_another_case_is_still_uploaded(tmp_path):
    if WINDOWS:
        pytest.skip("one folder cannot hold two names that differ only in case on Windows")
    root = tmp_path / "RMI25320"
    write(root / "config" / "Config.yaml", "a: 1\n")
    typed = write(tmp_path / "config.yaml", "a: 2\n")
    selection = collect_files(root, include=["config"], config_path=typed)
    try:
        assert [f.path for f in selection.files] == ["Config.yaml", "config.yaml"]
    finally:
        selection.close()


# -- geodatabases in use -----------------------------------------------------------------------------


def test_geodatabase_lock_files_are_recognised():
    assert geodatabase_lock("roads.gdb/_gdb.PC-7.1234.5678.sr.lock") == ("roads.gdb", "sr")
    assert geodatabase_lock("a/Roads.GDB/a00000001.gdbtable.PC.1.2.ED.lock") == ("a/Roads.GDB", "ed")
    assert geodatabase_lock("roads.gdb/sub/x.wr.lock") == ("roads.gdb", "wr")
    assert geodatabase_lock("roads.gdb/a00000001.gdbtable") is None
    assert geodatabase_lock("notes/x.lock") is None
    assert geodatabase_lock("x.lock") is None
    [edited, shown] = geodatabase_warnings("gis_data", {"b.gdb": {"sr", "ed"}, "c.gdb": {"sr"}})
    assert "gis_data/b.gdb was being edited" in edited
    assert "gis_data/c.gdb was in use" in shown


def test_a_geodatabase_in_use_is_archived_without_its_locks(tmp_path):
    root = tmp_path / "RMI25320"
    write(root / "gis_data" / "roads.gdb" / "a00000001.gdbtable", b"table")
    write(root / "gis_data" / "roads.gdb" / "_gdb.PC.1234.5678.sr.lock", b"")
    write(root / "gis_data" / "parcels.gdb" / "a00000001.gdbtable", b"table")
    write(root / "gis_data" / "parcels.gdb" / "a00000001.gdbtable.PC.1234.5678.ed.lock", b"")
    write(root / "gis_data" / "closed.gdb" / "a00000001.gdbtable", b"table")
    selection = collect_files(root, include=["gis_data"])
    try:
        assert [f.path for f in selection.files] == [
            "closed.gdb/a00000001.gdbtable", "parcels.gdb/a00000001.gdbtable", "roads.gdb/a00000001.gdbtable"]
        in_use = "ArcGIS lock file: the geodatabase was in use"
        assert sorted((d.path, d.reason) for d in selection.dropped) == [
            ("parcels.gdb/a00000001.gdbtable.PC.1234.5678.ed.lock", in_use),
            ("roads.gdb/_gdb.PC.1234.5678.sr.lock", in_use)]
        assert any("gis_data/parcels.gdb was being edited" in w for w in selection.warnings)
        assert any("gis_data/roads.gdb was in use" in w for w in selection.warnings)
        assert not any("closed.gdb" in w for w in selection.warnings)
    finally:
        selection.close()


@pytest.mark.skipif(not WINDOWS, reason="share modes are Windows's")
def test_a_file_held_exclusively_is_named_during_collection(tmp_path):
    import ctypes
    from ctypes import wintypes

    from artifact_backup import FileUnreadableError

    root = tmp_path / "RMI25320"
    held = write(root / "logs" / "process_log.txt", "busy")
    write(root / "logs" / "other.log", "ok")
    create = ctypes.windll.kernel32.CreateFileW
    create.restype = wintypes.HANDLE
    handle = create(str(held), 0x80000000, 0, None, 3, 0x80, None)  # GENERIC_READ, no sharing
    assert handle != wintypes.HANDLE(-1).value
    try:
        assert os.access(held, os.R_OK)
        with pytest.raises(FileUnreadableError, match="process_log.txt") as err:
            collect_files(root, include=["logs"])
        assert err.value.exit_code == 4
    finally:
        ctypes.windll.kernel32.CloseHandle(wintypes.HANDLE(handle))


def test_a_config_file_that_cannot_be_opened_stops_the_run(tmp_path, monkeypatch):
    from artifact_backup import FileUnreadableError

    root = tmp_path / "RMI25320"
    write(root / "config" / "settings.json", "{}")
    typed = write(tmp_path / "config.yaml", "a: 1\n")
    real = os.open

    def held(path, flags, *args, **kwargs):
        if os.fspath(path).endswith("config.yaml"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", held)
    with pytest.raises(FileUnreadableError, match=r"cannot read the config file .*config\.yaml"):
        collect_files(root, include=["config"], config_path=typed)
