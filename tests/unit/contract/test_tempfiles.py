"""Temporary files on every platform: the spool works where an open file cannot be deleted
(Windows), leaves nothing behind, even when its process dies, and a clean-up that fails never
raises in place of the real outcome."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from artifact_contract import FileEntry, FileSpool
from artifact_contract.tempfiles import discard, temporary_database

ROOT = Path(__file__).resolve().parents[3]

#: A child process that fills a spool past its page cache, reports where its file is, and then
#: closes it or dies with it open.
_CHILD = """
import json, os, sys
sys.path[:0] = sys.argv[3:]  # the embeddable Windows Python ignores PYTHONPATH
from artifact_contract import FileEntry, FileSpool

folder = sys.argv[1]
spool = FileSpool()
for i in range(20000):
    spool.add(FileEntry("logs", f"run/{i:06d}_\\u65e5\\u672c.log", i, f"{i:064x}", "packs/p"), f"k/{i}")
spool.seal()
assert len(list(spool.in_name_order())) == 20000
fds = []
if os.path.isdir("/proc/self/fd"):  # POSIX: the file is open, nameless, in the folder
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
print(json.dumps({"listed": os.listdir(folder), "open": [f for f in fds if f.startswith(folder)]}))
sys.stdout.flush()
if sys.argv[2] == "die":
    os._exit(3)
spool.close()
"""


def _run_child(folder: Path, how: str) -> dict[str, list[str]]:
    env = {**os.environ, "TMP": str(folder), "TEMP": str(folder), "TMPDIR": str(folder),
           "SQLITE_TMPDIR": str(folder)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(folder), how, str(ROOT / "contract")],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == (3 if how == "die" else 0), done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("how", ["close", "die"])
def test_a_spool_on_disk_leaves_nothing_behind(tmp_path, how):
    folder = tmp_path / "temp"
    folder.mkdir()
    seen = _run_child(folder, how)
    # It was a file in the temporary folder (listed while open on Windows, open without a name
    # elsewhere), so the page cache really spilled to disk...
    assert seen["listed"] or seen["open"]
    # ...and whether the spool was closed or its process died, nothing is left.
    assert os.listdir(folder) == []


def test_a_spool_in_a_given_folder_is_removed_on_close(tmp_path):
    entry = FileEntry("logs", "\u00dcberblick_\u65e5\u672c\u8a9e.log", 3, "a" * 64, "packs/p")
    spool = FileSpool(str(tmp_path))
    assert spool.add(entry, "k")
    spool.seal()
    assert list(spool) == [entry]
    if os.name != "nt":  # where an open file can be deleted, it is at once
        assert os.listdir(tmp_path) == []
    spool.close()
    spool.close()
    assert os.listdir(tmp_path) == []


def test_a_given_folder_that_cannot_hold_a_database_leaves_nothing(tmp_path, monkeypatch):
    import sqlite3

    def refuse(*args, **kwargs):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(sqlite3, "connect", refuse)
    with pytest.raises(sqlite3.OperationalError):
        temporary_database(str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_discard_of_a_file_held_open_never_raises(tmp_path):
    path = tmp_path / "artifact-pack-1.tar.gz"
    path.write_bytes(b"pack")
    pauses: list[float] = []
    with path.open("rb"):
        removed = discard(path, sleep=pauses.append)
        # Windows refuses to delete a file that is open (a sharing violation): discard says so
        # after a few short pauses, without raising; POSIX deletes it at once.
        assert removed is (os.name != "nt")
        assert pauses == ([0.05, 0.1, 0.2] if os.name == "nt" else [])
    assert discard(path)
    assert not path.exists()
    assert discard(path)  # already gone: nothing to do


def test_discard_retries_a_file_a_scanner_holds_for_a_moment(tmp_path, monkeypatch):
    path = tmp_path / "artifact-pack-2.tar.gz"
    path.write_bytes(b"pack")
    real_unlink = os.unlink
    refusals = [PermissionError(13, "held by another process")] * 2

    def unlink(target):
        if refusals:
            raise refusals.pop()
        real_unlink(target)

    monkeypatch.setattr(os, "unlink", unlink)
    pauses: list[float] = []
    assert discard(path, sleep=pauses.append)
    assert pauses == [0.05, 0.1]
    assert not path.exists()
