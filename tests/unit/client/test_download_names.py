"""A download never loses a file to the destination's names: case-insensitive folders, Windows's
device names, characters and trailing dots; a destination held open is named with the fix.

S3 is served in-process by a botocore ``before-send`` hook (no moto), so these run under a real
Windows Python as well; there, Windows's own rules are used instead of the simulated ones.
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from artifact_backup.archive import download as download_module
from artifact_backup.archive import local_names
from artifact_backup.archive.download import download
from artifact_backup.archive.local_names import (
    NameRules,
    Placed,
    plan_names,
    probe_case_insensitive,
    safe_segment,
    segment_problem,
    write_error,
)
from artifact_backup.archive.summary import RunSummary
from artifact_backup.exceptions import ArchiveReadError, DestinationNameError, DestinationWriteError
from artifact_contract import RecordedFile, RunRecord, archive_key

WINDOWS = sys.platform == "win32"
WIN = NameRules(windows=True, case_insensitive=True)
POSIX = NameRules(windows=False, case_insensitive=False)
BUCKET = "rmi-360-raw"


# -- the rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["CON", "con", "aux.html", "NUL.tar.gz", "COM1", "com9.log", "LPT3.txt",
                                  "Prn .txt", "COM\u00b9.log", "what?.html", "a<b>.txt", 'say"hi".txt',
                                  "C:x.html", "pipe|.log", "star*.log", "tab\t.log", "dot.", "space "])
def test_names_windows_cannot_hold(name):
    assert segment_problem(name, windows=True)
    assert segment_problem(name, windows=False) is None
    safe = safe_segment(name, windows=True)
    assert segment_problem(safe, windows=True) is None
    assert len(safe) >= len(name.rstrip(". "))


@pytest.mark.parametrize("name", ["console.log", "auxiliary.html", "COM10.log", "LPT0.txt", "index.html",
                                  "Überblick_日本語.log", ".hidden", "a..b"])
def test_names_windows_can_hold(name):
    assert segment_problem(name, windows=True) is None
    assert safe_segment(name, windows=True) == name


def test_plan_keeps_good_names_and_renames_the_rest():
    paths = ["report/Index.html", "report/index.html", "report/aux.html", "report/aux_.html",
             "logs/what?.html", "logs/C:x.log", "logs/AUX/run.log", "logs/a", "logs/A/b.log"]
    plans = plan_names(paths, WIN)
    renamed = {p.name: p.safe_name for p in plans if p is not None}
    assert renamed == {
        "report/index.html": "report/index~2.html",
        "report/aux.html": "report/aux_~2.html",
        "logs/what?.html": "logs/what_.html",
        "logs/C:x.log": "logs/C_x.log",
        "logs/AUX/run.log": "logs/AUX_/run.log",
        "logs/a": "logs/a~2",
    }
    assert plans[0] is None
    assert plans[3] is None
    assert plans[8] is None
    assert "Index.html" in plans[1].problem
    assert plan_names(paths[:2], POSIX) == [None, None]
    folded = NameRules(windows=False, case_insensitive=True)
    assert [p.safe_name for p in plan_names(paths[:2], folded) if p] == ["report/index~2.html"]


def test_probe_tells_how_the_destination_compares_names(tmp_path):
    (tmp_path / "probe").write_bytes(b"")
    expected = (tmp_path / "PROBE").exists()
    assert probe_case_insensitive(tmp_path / "not" / "yet" / "made") is expected
    assert list(tmp_path.iterdir()) == [tmp_path / "probe"]
    if WINDOWS:
        assert expected


# -- downloads ---------------------------------------------------------------------------------------


def rfile(path: str, data: bytes, type_name: str = "report") -> RecordedFile:
    return RecordedFile(type_name, path, archive_key("RMI25320", type_name, "20251030_1430", path), len(data),
                        hashlib.sha256(data).hexdigest())


def summary(files) -> RunSummary:
    record = RunRecord(run_id="a" * 32, project_key="RMI25320", timestamp="20251030_1430",
                       archive_bucket=BUCKET,
                       created_at="2025-10-30T14:30:05+00:00", files=tuple(files), uploader={})
    return RunSummary(record, "k", None, None)


class _Raw(io.BytesIO):
    def stream(self, amt=1024, decode_content=None):
        while chunk := self.read(amt):
            yield chunk


def served(objects: dict[str, bytes], *, status: int = 200):
    """An S3 client whose requests are answered from ``objects`` in-process."""
    import botocore.session
    from botocore.awsrequest import AWSResponse
    from botocore.config import Config

    client = botocore.session.get_session().create_client(
        "s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9", aws_access_key_id="k",
        aws_secret_access_key="s",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

    def answer(request, **kwargs):
        key = unquote(urlsplit(request.url).path.split("/", 2)[2])
        if status != 200:
            body = b"<Error><Code>AccessDenied</Code><Message>no</Message></Error>"
            return AWSResponse(request.url, status, {"Content-Length": str(len(body))}, _Raw(body))
        body = objects[key]
        headers = {"Content-Length": str(len(body)), "ETag": '"e"'}
        return AWSResponse(request.url, 200, headers, _Raw(b"" if request.method == "HEAD" else body))

    client.meta.events.register("before-send.s3", answer)
    return client


@pytest.fixture
def windows_rules(monkeypatch):
    """Windows's rules: its own on Windows, simulated elsewhere."""
    if not WINDOWS:
        monkeypatch.setattr(download_module, "rules_for", lambda root: WIN)


RISKY = {"Index.html": b"upper", "index.html": b"lower", "aux.html": b"device", "what?.html": b"question",
         "maps/C:x.html": b"drive", "plain.html": b"plain"}


def test_unsafe_names_stop_the_download_before_anything_is_written(tmp_path, windows_rules):
    files = [rfile(name, data) for name, data in RISKY.items()]
    with pytest.raises(DestinationNameError) as err:
        download(None, BUCKET, [summary(files)], tmp_path / "out", run_argument="20251030_1430")
    assert not (tmp_path / "out").exists()
    named = {f["file"] for f in err.value.files}
    assert named == {"report/index.html", "report/aux.html", "report/what?.html", "report/maps/C:x.html"}
    assert err.value.exit_code == 4
    assert "--safe-names" in err.value.hint
    assert "--file" in err.value.hint
    assert "nothing was downloaded" in str(err.value)


def test_safe_names_keep_every_file_and_say_which(tmp_path, windows_rules):
    files = [rfile(name, data) for name, data in RISKY.items()]
    client = served({f.key: RISKY[f.path] for f in files})
    result = download(client, BUCKET, [summary(files)], tmp_path / "out", run_argument="20251030_1430",
                      safe_names=True)
    assert result.count("downloaded") == len(RISKY)
    report = tmp_path / "out" / "report"
    on_disk = {p.relative_to(report).as_posix(): p.read_bytes() for p in report.rglob("*") if p.is_file()}
    assert on_disk == {"Index.html": b"upper", "index~2.html": b"lower", "aux_.html": b"device",
                       "what_.html": b"question", "maps/C_x.html": b"drive", "plain.html": b"plain"}
    assert {f.name: f.renamed.safe_name for f in result.renamed} == {
        "report/index.html": "report/index~2.html", "report/aux.html": "report/aux_.html",
        "report/what?.html": "report/what_.html", "report/maps/C:x.html": "report/maps/C_x.html"}
    assert result.to_dict()["files"][1]["saved_as"] == "report/index~2.html"
    from artifact_backup.cli.download import format_download

    text = format_download(result)
    assert "4 files saved under another name" in text
    assert "report/aux.html -> report/aux_.html" in text


def second_name(first: Path) -> Path:
    """A second name for one file: another case on Windows, a hard link elsewhere."""
    if WINDOWS:
        return first.with_name(first.name.upper())
    other = first.with_name("other.html")
    os.link(first, other)
    return other


def test_a_file_is_never_put_over_one_this_download_placed(tmp_path):
    first = tmp_path / "index.html"
    first.write_bytes(b"first")
    placed = Placed()
    assert placed.add(first, "run/report/index.html") is None
    temp = tmp_path / "part"
    temp.write_bytes(b"second")
    assert placed.put(temp, second_name(first), "shown", "run/report/INDEX.html") == "run/report/index.html"
    assert first.read_bytes() == b"first"
    assert not temp.exists()


def test_a_collision_unforeseen_by_the_name_check_is_an_error_not_verified(tmp_path, monkeypatch):
    """A folder that compares names in a way the probe did not see: the second file is not written
    over the first, and the download fails instead of saying 'verified'."""
    files = [rfile("Index.html", b"upper"), rfile("index.html", b"lower")]
    monkeypatch.setattr(download_module, "rules_for", lambda root: POSIX)
    real = Path(download_module.io_path(tmp_path / "out" / "report" / "Index.html"))
    monkeypatch.setattr(download_module, "io_path",
                        lambda p: str(real) if Path(p).name.lower() == "index.html" else os.fspath(p))
    client = served({f.key: b"upper" if f.path == "Index.html" else b"lower" for f in files})
    with pytest.raises(DestinationNameError, match="would replace") as err:
        download(client, BUCKET, [summary(files)], tmp_path / "out", run_argument="20251030_1430")
    assert real.read_bytes() == b"upper"
    assert err.value.files[0]["file"] == "report/index.html"


def test_a_destination_held_open_is_named_with_the_fix(tmp_path, monkeypatch):
    files = [rfile("report.html", b"new")]
    target = tmp_path / "out" / "report" / "report.html"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"old")
    client = served({files[0].key: b"new"})
    if not WINDOWS:
        real_replace = os.replace

        def refuse(src, dst):
            if Path(dst) == target:  # as Windows answers while another program holds the file
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(dst))
            return real_replace(src, dst)
        monkeypatch.setattr(local_names.os, "replace", refuse)
        monkeypatch.setattr(download_module, "rules_for", lambda root: POSIX)
        held = None
    else:
        import ctypes
        from ctypes import wintypes

        create = ctypes.windll.kernel32.CreateFileW
        create.restype = wintypes.HANDLE
        held = create(str(target), 0x80000000, 0, None, 3, 0x80, None)  # no sharing
    try:
        with pytest.raises(DestinationWriteError) as err:
            download(client, BUCKET, [summary(files)], tmp_path / "out", run_argument="20251030_1430")
    finally:
        if held is not None:
            ctypes.windll.kernel32.CloseHandle(wintypes.HANDLE(held))
    assert str(target) in str(err.value)
    assert "another program has it open" in str(err.value)
    assert "close the program" in err.value.hint
    assert err.value.exit_code == 4
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]


def test_write_errors_say_what_to_do():
    locked = write_error("D:\\out\\a.html", PermissionError(errno.EACCES, "Access is denied"))
    assert "another program has it open" in str(locked)
    assert "close the program" in locked.hint
    full = write_error("/out/a.html", OSError(errno.ENOSPC, "No space left on device"))
    assert "No space left" in str(full)
    assert "free space" in full.hint


def test_a_failed_cleanup_does_not_hide_the_first_error(tmp_path, monkeypatch, caplog):
    files = [rfile("report.html", b"x")]
    monkeypatch.setattr(download_module, "rules_for", lambda root: POSIX)
    real_unlink = Path.unlink

    def held(self, missing_ok=False):
        if self.name.endswith(download_module.PART_SUFFIX):
            raise PermissionError(errno.EACCES, "The process cannot access the file", str(self))
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", held)
    with caplog.at_level(logging.WARNING, logger="artifact_backup"), pytest.raises(ArchiveReadError) as err:
        download(served({}, status=403), BUCKET, [summary(files)], tmp_path / "out", run_argument="r")
    assert "denied" in str(err.value).lower()
    assert "cannot remove the partial download" in caplog.text


def test_case_is_folded_character_by_character_as_ntfs_does():
    assert WIN.fold("Straße/Index.HTML") == WIN.fold("STRAßE/index.html")
    assert WIN.fold("straße") != WIN.fold("strasse")
    plans = plan_names(["logs/straße.log", "logs/strasse.log", "logs/Ǆ.log", "logs/ǆ.log"], WIN)
    assert plans[:3] == [None, None, None]
    assert plans[3].safe_name == "logs/ǆ~2.log"
    assert POSIX.fold("Index.html") == "Index.html"


def test_the_refusal_counts_the_files_it_names(tmp_path, windows_rules):
    one = [rfile("aux.html", b"a"), rfile("plain.html", b"p")]
    with pytest.raises(DestinationNameError) as err:
        download(None, BUCKET, [summary(one)], tmp_path, run_argument="20251030_1430")
    assert str(err.value).startswith(
        "report/aux.html of run 20251030_1430 cannot be written under its own name")
    assert "report/aux.html: 'aux.html': AUX is a device name on Windows (safe name: report/aux_.html)" in \
        err.value.hint
    two = [*one, rfile("nul", b"n")]
    with pytest.raises(DestinationNameError, match=r"^2 files cannot be written under their own names"):
        download(None, BUCKET, [summary(two)], tmp_path, run_argument="20251030_1430")
    assert list(tmp_path.iterdir()) == []


def test_a_rename_refused_for_a_moment_is_tried_again_on_windows(tmp_path, monkeypatch):
    """A virus scanner holds a file just written for a moment: the rename is tried again a few
    times, on Windows only; a file held longer is an error."""
    refusals, pauses = [2], []
    real = os.replace

    def scanned(src, dst):
        if refusals[0]:
            refusals[0] -= 1
            raise PermissionError(errno.EACCES, "The process cannot access the file", os.fspath(dst))
        return real(src, dst)

    monkeypatch.setattr(local_names.os, "replace", scanned)
    temp, target = tmp_path / "part", tmp_path / "report.html"
    temp.write_bytes(b"new")
    assert Placed(windows=True, sleep=pauses.append).put(temp, target, target, "r/report.html") is None
    assert target.read_bytes() == b"new"
    assert len(pauses) == 2
    refusals[0] = 1
    temp.write_bytes(b"newer")
    with pytest.raises(DestinationWriteError):
        Placed(windows=False, sleep=pauses.append).put(temp, target, target, "r/report.html")
    assert len(pauses) == 2
    assert not temp.exists()
    refusals[0] = 100
    temp.write_bytes(b"newest")
    with pytest.raises(DestinationWriteError, match="another program has it open"):
        Placed(windows=True, sleep=pauses.append).put(temp, target, target, "r/report.html")
    assert len(pauses) == 2 + len(local_names.RENAME_PAUSES)
    assert target.read_bytes() == b"new"


@pytest.mark.parametrize("rules", [WIN, POSIX])
def test_a_name_too_long_for_the_folder_is_shortened_not_lost(rules):
    long = "report/" + "ü" * 200 + ".html"  # 205 characters, 405 bytes
    other = "report/" + "ü" * 200 + "x.html"
    plans = plan_names([long, other, "report/short.html"], rules)
    assert plans[2] is None
    if rules.windows:  # Windows counts characters: it fits
        assert plans[:2] == [None, None]
        long, other = "report/" + "a" * 300 + ".html", "report/" + "a" * 301 + ".html"
        plans = plan_names([long, other], rules)
    first, second = (p.safe_name.split("/")[-1] for p in plans[:2])
    for name in (first, second):
        assert name.endswith(".html")
        assert segment_problem(name, rules.windows) is None
    assert first != second
    assert "longer than the 255" in plans[0].problem
