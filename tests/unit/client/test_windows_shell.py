"""Hints are printed in the syntax of the user's shell: POSIX, PowerShell or cmd.exe."""

from __future__ import annotations

import shlex
import sys

import pytest

from artifact_backup import shell
from artifact_backup.archive.download import restore_command

AWKWARD = ["artifact-backup", "restore", "RMI 1", "20251030_1430", "--file", "logs/it's a \"log\".txt",
           "--config", "D:\\Process 360\\config.yaml", "--to", "C:\\dir with space\\", "100%",
           "a&b|c", "$HOME", "`x`", "@list", "a,b", "", "trail\\", "\u2019quote"]


def parse_cmd(line: str) -> list[str]:
    """What cmd.exe, then the C runtime's argument parser, make of a line: a caret outside quotes
    escapes the next character; then quotes group, and backslashes count only before a quote."""
    unescaped, quoted, i = [], False, 0
    while i < len(line):
        char = line[i]
        if char == '"':
            quoted = not quoted
        elif char == "^" and not quoted:
            i += 1
            char = line[i]
        elif char == "%" and not quoted and line[i - 1] != "^":
            raise AssertionError(f"cmd.exe would expand a variable at {i} in {line!r}")
        elif char == "%":
            raise AssertionError(f"a % inside quotes is expanded by cmd.exe: {line!r}")
        unescaped.append(char)
        i += 1
    return _crt_split("".join(unescaped))


def _crt_split(text: str) -> list[str]:
    args: list[str] = []
    current: list[str] = []
    quoted = in_arg = False
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            run = len(text) - i - len(text[i:].lstrip("\\"))
            if i + run < len(text) and text[i + run] == '"':
                current.append("\\" * (run // 2))
                if run % 2:
                    current.append('"')
                    i += run + 1
                else:
                    i += run
                in_arg = True
                continue
            current.append("\\" * run)
            i += run
            in_arg = True
            continue
        if char == '"':
            quoted, in_arg = not quoted, True
        elif char == " " and not quoted:
            if in_arg:
                args.append("".join(current))
            current, in_arg = [], False
        else:
            current.append(char)
            in_arg = True
        i += 1
    if in_arg:
        args.append("".join(current))
    return args


def parse_powershell(line: str) -> list[str]:
    """PowerShell's reading of bare words and single-quoted strings (doubled quotes inside)."""
    args, i = [], 0
    quotes = "'\u2018\u2019\u201a\u201b"
    while i < len(line):
        if line[i] == " ":
            i += 1
            continue
        if line[i] in quotes:
            i += 1
            value = []
            while True:
                if line[i] in quotes:
                    if i + 1 < len(line) and line[i + 1] in quotes:
                        value.append(line[i + 1])
                        i += 2
                        continue
                    i += 1
                    break
                value.append(line[i])
                i += 1
            args.append("".join(value))
            continue
        end = line.find(" ", i)
        end = len(line) if end < 0 else end
        word = line[i:end]
        assert not set(word) & set("$`@,;&|()'\"{}<>%#"), f"PowerShell reads {word!r} itself"
        args.append(word)
        i = end
    return args


@pytest.mark.parametrize(("syntax", "parse"), [("posix", shlex.split), ("powershell", parse_powershell),
                                                ("cmd", parse_cmd)])
def test_every_argument_survives_its_shell(syntax, parse):
    line = shell.join(AWKWARD, syntax)
    assert parse(line) == AWKWARD


def test_plain_arguments_stay_readable():
    argv = ["artifact-backup", "download", "RMI25320", "20251030_1430", "--to", "D:\\out",
            "--include", "logs"]
    assert shell.join(argv, "powershell") == " ".join(argv)
    assert shell.join(argv, "cmd") == " ".join(argv)
    assert shell.join(["a b"], "powershell") == "'a b'"
    assert shell.join(["a b"], "cmd") == '"a b"'
    assert shell.join(["a b"], "posix") == "'a b'"


@pytest.mark.parametrize(("environ", "platform", "expected"), [
    ({}, "linux", "posix"),
    ({"PSModulePath": "C:\\Users\\ana\\Documents\\WindowsPowerShell\\Modules"}, "linux", "posix"),
    ({"ARTIFACT_BACKUP_SHELL": "PowerShell"}, "linux", "powershell"),
    ({"COMSPEC": "C:\\Windows\\system32\\cmd.exe",
      "PSModulePath": "C:\\Program Files\\WindowsPowerShell\\Modules;"
                      "C:\\Windows\\system32\\WindowsPowerShell\\v1.0\\Modules",
      "USERPROFILE": "C:\\Users\\ana"}, "win32", "cmd"),
    ({"COMSPEC": "C:\\Windows\\system32\\cmd.exe",
      "PSModulePath": "C:\\Users\\Ana\\Documents\\WindowsPowerShell\\Modules;"
                      "C:\\Program Files\\WindowsPowerShell\\Modules",
      "USERPROFILE": "C:\\Users\\ana"}, "win32", "powershell"),
    ({"MSYSTEM": "MINGW64", "PSModulePath": "C:\\Users\\ana\\Documents\\PowerShell\\Modules",
      "USERPROFILE": "C:\\Users\\ana"}, "win32", "posix"),
    ({"ARTIFACT_BACKUP_SHELL": "cmd", "MSYSTEM": "MINGW64"}, "win32", "cmd"),
    ({"ARTIFACT_BACKUP_SHELL": "fish"}, "win32", "cmd"),
])
def test_shell_detected_from_the_environment(environ, platform, expected):
    assert shell.detect_shell(environ, platform) == expected


def test_restore_hint_follows_the_shell(monkeypatch):
    monkeypatch.setenv("ARTIFACT_BACKUP_SHELL", "cmd")
    command = restore_command("RMI25320", "20251030_1430",
                              options=["--config", "D:\\my project\\config.yaml"])
    assert command.endswith('--config "D:\\my project\\config.yaml"')
    assert parse_cmd(command)[-1] == "D:\\my project\\config.yaml"
    monkeypatch.setenv("ARTIFACT_BACKUP_SHELL", "powershell")
    assert restore_command("RMI25320", "x", options=["--config", "a b"]).endswith("--config 'a b'")


@pytest.mark.skipif(sys.platform != "win32", reason="the C runtime's parser is Windows's own")
def test_cmd_quoting_read_back_by_windows():
    import ctypes
    from ctypes import wintypes

    parse = ctypes.windll.shell32.CommandLineToArgvW
    parse.argtypes = [wintypes.LPCWSTR, ctypes.POINTER(ctypes.c_int)]
    parse.restype = ctypes.POINTER(wintypes.LPWSTR)
    argv = [a for a in AWKWARD if "%" not in a]  # cmd.exe's own step (^%) is not CommandLineToArgvW's
    count = ctypes.c_int()
    result = parse("prog.exe " + shell.join(argv, "cmd"), ctypes.byref(count))
    try:
        assert [result[i] for i in range(1, count.value)] == argv
    finally:
        ctypes.windll.kernel32.LocalFree(result)
