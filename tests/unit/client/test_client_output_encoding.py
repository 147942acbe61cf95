"""No output encoding crashes a command: a Windows pipe or file is written in cp1252, which has no
Japanese and no box-drawing characters; ``--json`` is always exactly one valid UTF-8 document."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from client_support import PROJECT, write

from artifact_backup.cli import main
from artifact_backup.cli._console import Console
from artifact_backup.exceptions import FolderNotFoundError
from artifact_backup.tree import render_tree

REPO = Path(__file__).resolve().parents[3]
NAME = "\u00dcberblick_\u65e5\u672c\u8a9e.log"  # Überblick_日本語.log: Ü is in cp1252, 日本語 is not
ESCAPED = "\u00dcberblick_\\u65e5\\u672c\\u8a9e.log"


def windows_pipe() -> io.TextIOWrapper:
    """A stream as Python opens a pipe or a file on Windows: the ANSI code page, strict."""
    return io.TextIOWrapper(io.BytesIO(), encoding="cp1252", errors="strict", write_through=True)


def written(stream: io.TextIOWrapper) -> bytes:
    stream.flush()
    return stream.buffer.getvalue()  # type: ignore[attr-defined]


@pytest.fixture
def unicode_project(tmp_path) -> Path:
    root = tmp_path / "RMI25320"
    write(root / "logs" / NAME, "started\n")
    write(root / "logs" / "plain.log", "ok\n")
    write(root / "logs" / NAME.replace(".log", ".dump"), "left out, and listed so")
    return root


@pytest.fixture
def pipes(monkeypatch):
    """Install ``(stdout, stderr)`` as Windows pipes; called in the test itself, since pytest puts
    its own capture back in place between a fixture and the test."""

    def install() -> tuple[io.TextIOWrapper, io.TextIOWrapper]:
        out, err = windows_pipe(), windows_pipe()
        monkeypatch.setattr(sys, "stdout", out)
        monkeypatch.setattr(sys, "stderr", err)
        return out, err

    return install


def upload_argv(config_file, folder, *extra: str) -> list[str]:
    return ["upload", "--config", str(config_file), "--folder", str(folder), "--project-key", PROJECT,
            "--include", "logs", "--dry-run", *extra]


def test_names_the_code_page_lacks_are_escaped_not_a_crash(config_file, unicode_project, pipes):
    out, err = pipes()
    assert main(upload_argv(config_file, unicode_project, "-v")) == 0
    text = written(out).decode("cp1252")
    assert "Dry run, nothing sent. Would upload 2 files" in text
    assert f"logs/{ESCAPED}" in text
    assert written(err) == b""


def test_json_is_one_utf8_document_whatever_the_code_page(config_file, unicode_project, pipes):
    out, _ = pipes()
    assert main(upload_argv(config_file, unicode_project, "-v", "--json")) == 0
    data = json.loads(written(out).decode("utf-8"))  # one document: json.loads refuses two
    assert data["ok"] is True
    assert data["result"]["status"] == "dry-run"
    assert [d["path"] for d in data["result"]["dropped"]] == [NAME.replace(".log", ".dump")]


def test_json_error_is_one_utf8_document_and_stderr_does_not_crash(config_file, tmp_path, pipes):
    out, err = pipes()
    missing = tmp_path / NAME.replace(".log", "")
    assert main(upload_argv(config_file, missing, "--json")) == 4
    data = json.loads(written(out).decode("utf-8"))
    assert data["ok"] is False
    assert NAME.replace(".log", "") in data["error"]["message"]
    assert ESCAPED.replace(".log", "") in written(err).decode("cp1252")


def test_a_tree_is_drawn_in_ascii_where_the_encoding_has_no_box_drawing():
    tree = render_tree("s3://archive/P/", ["P/logs/" + NAME, "P/logs/a.log", "P/report/r.html"], "P/")
    assert "\u251c\u2500\u2500" in tree
    out = windows_pipe()
    Console(stdout=out).emit({}, tree)
    text = written(out).decode("cp1252")
    assert text.splitlines() == [
        "s3://archive/P/",
        "|-- logs/",
        "|   |-- a.log",
        f"|   `-- {ESCAPED}",
        "`-- report/",
        "    `-- r.html",
    ]
    utf8 = io.StringIO()
    Console(stdout=utf8).emit({}, tree)
    assert utf8.getvalue() == tree + "\n"  # where the characters exist, they are used


def test_a_failure_while_writing_the_result_still_gives_one_document():
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no text for this value")

    out = io.StringIO()
    console = Console(json_output=True, stdout=out, stderr=io.StringIO())
    with pytest.raises(RuntimeError) as err:
        console.emit({"value": Unprintable()}, "")
    console.crash(err.value)  # what the command line's error boundary does next
    data = json.loads(out.getvalue())
    assert data["ok"] is False
    assert data["error"]["message"] == "no text for this value"


def test_an_error_after_the_result_does_not_write_a_second_document():
    out, err = io.StringIO(), io.StringIO()
    console = Console(json_output=True, stdout=out, stderr=err)
    console.emit({"command": "local"}, "")
    console.error(FolderNotFoundError("folder not found: x"))
    assert json.loads(out.getvalue()) == {"ok": True, "command": "local"}
    assert "error: folder not found: x" in err.getvalue()


def test_a_real_pipe_in_the_ansi_code_page(config_file, unicode_project):
    """The process's own stdout, a pipe, as a scheduled task or an orchestrator reads it."""
    env = {**os.environ, "PYTHONIOENCODING": "cp1252"}  # a Windows pipe's encoding, on any system
    env.pop("PYTHONUTF8", None)
    code = ("import sys; sys.path[:0] = sys.argv[1:3]; from artifact_backup.cli import main; "
            "sys.exit(main(sys.argv[3:]))")
    for extra in (["-v"], ["--json"]):
        done = subprocess.run(
            [sys.executable, "-c", code, str(REPO / "contract"), str(REPO / "client"),
             *upload_argv(config_file, unicode_project, *extra)],
            env=env, input=b"", capture_output=True, timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
        if extra == ["--json"]:
            assert json.loads(done.stdout.decode("utf-8"))["ok"] is True
        else:
            assert f"logs/{ESCAPED}" in done.stdout.decode("cp1252")


def test_a_refused_command_line_with_json_still_gives_one_document(pipes):
    out, err = pipes()
    assert main(["upload", "--json", "--include", "nonsense"]) == 2
    data = json.loads(written(out).decode("utf-8"))
    assert data["ok"] is False
    assert data["error"]["code"] == "argument-invalid"
    assert "invalid choice: 'nonsense'" in data["error"]["message"]
    assert b"invalid choice: 'nonsense'" in written(err)
