"""Command lines printed as hints, quoted for the shell the user will paste them into.

``shlex.join`` writes for a POSIX shell; cmd.exe does not read single quotes and PowerShell reads
``$``, backticks, ``@`` and ``,`` itself. The shell is guessed from the environment the client runs
in and can be named with ``ARTIFACT_BACKUP_SHELL`` (``posix``, ``powershell`` or ``cmd``):

* not Windows, or a POSIX shell on Windows (Git Bash, MSYS2, Cygwin set ``MSYSTEM`` or ``SHELL``):
  POSIX;
* PowerShell adds the user's own module folder to ``PSModulePath``; cmd.exe inherits only the
  system's: a ``PSModulePath`` entry under the user's profile means PowerShell;
* otherwise cmd.exe.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Mapping, Sequence

SHELLS = ("posix", "powershell", "cmd")

_PS_SAFE = re.compile(r"^[A-Za-z0-9_\-./\\:=+]+$")
_CMD_SAFE = re.compile(r"^[A-Za-z0-9_\-./\\:=+,@]+$")


def detect_shell(environ: Mapping[str, str] | None = None, platform: str | None = None) -> str:
    """``posix``, ``powershell`` or ``cmd``: the shell a hint is written for."""
    env = os.environ if environ is None else environ
    chosen = (env.get("ARTIFACT_BACKUP_SHELL") or "").strip().lower()
    if chosen in SHELLS:
        return chosen
    if (platform or sys.platform) != "win32":
        return "posix"
    if env.get("MSYSTEM") or env.get("SHELL"):
        return "posix"
    profile = (env.get("USERPROFILE") or "").rstrip("\\/").lower()
    for entry in (env.get("PSModulePath") or "").split(";"):
        entry = entry.strip().lower()
        if entry and profile and entry.startswith(profile + "\\"):
            return "powershell"
    return "cmd"


def quote_powershell(arg: str) -> str:
    """One argument for PowerShell: single quotes, where nothing is special but ``'`` (doubled)."""
    if arg and _PS_SAFE.match(arg):
        return arg
    # PowerShell also ends a single-quoted string at the typographic quotes.
    return "'" + re.sub(r"(['\u2018\u2019\u201a\u201b])", r"\1\1", arg) + "'"


def quote_cmd(arg: str) -> str:
    """One argument for cmd.exe and the program's own argument parser (the C runtime's rules):
    double quotes, a ``"`` inside as ``\\"`` (backslashes before it doubled), and ``%`` left outside
    the quotes as ``^%`` so that cmd.exe does not expand a variable."""
    if arg and _CMD_SAFE.match(arg):
        return arg
    out, backslashes = [], 0
    for char in arg:
        if char == "\\":
            backslashes += 1
            continue
        if char == '"':
            out.append("\\" * (2 * backslashes + 1) + '"')
        elif char == "%":
            out.append("\\" * (2 * backslashes) + '"^%"')
        else:
            out.append("\\" * backslashes + char)
        backslashes = 0
    out.append("\\" * (2 * backslashes))
    return '"' + "".join(out) + '"'


def join(argv: Sequence[str], shell: str | None = None) -> str:
    """``argv`` as one command line for ``shell`` (default: :func:`detect_shell`)."""
    shell = shell or detect_shell()
    if shell == "powershell":
        return " ".join(quote_powershell(a) for a in argv)
    if shell == "cmd":
        return " ".join(quote_cmd(a) for a in argv)
    return shlex.join(argv)
