"""What every command shares: output (text or ``--json``), warnings, progress, and loading settings.

Results go to stdout (a JSON document with ``--json``, nothing else on stdout then); messages,
warnings, errors and the progress display (:mod:`._progress`) go to stderr: a line redrawn on a
terminal, a plain line at each tenth of the way in a log, none in a log under ``--json``.

No output encoding crashes a command. A Windows pipe or file (a scheduled task's log, an
orchestrator's subprocess) is written in the ANSI code page, cp1252, which has no box-drawing
characters and no Japanese: text keeps the stream's encoding (what the reader expects; ``PYTHONUTF8``
or ``PYTHONIOENCODING`` change it) with what it cannot encode written as ``\u65e5``-style escapes
and trees drawn in ASCII, while ``--json`` is always written as exactly one UTF-8 document.
"""

from __future__ import annotations

import argparse
import codecs
import json
import sys
import traceback
from collections.abc import Callable
from typing import Any, TextIO

from ..config import Settings, load_config
from ..exceptions import EXIT_ERROR, ArtifactBackupError


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def human_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def load_settings(args: argparse.Namespace) -> Settings:
    """``--config`` read, then ``--profile``/``--region``/``--endpoint-url`` applied on top."""
    settings = load_config(args.config)
    return settings.with_overrides(
        profile=getattr(args, "profile", None),
        region=getattr(args, "region", None),
        endpoint_url=getattr(args, "endpoint_url", None),
    )


#: A tree's box-drawing characters, and what draws them where the output's encoding has none.
_ASCII_ART = str.maketrans({"\u251c": "|", "\u2514": "`", "\u2502": "|", "\u2500": "-"})


def _tolerant(stream: TextIO, *, utf8: bool = False) -> None:
    """Make the process's ``stream`` write what its encoding lacks as escapes (stderr does by
    default, stdout raises), and with ``utf8`` write UTF-8 whatever the code page."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is None:  # not a text file (replaced by a caller): left as it is
        return
    if utf8:
        reconfigure(encoding="utf-8", errors="backslashreplace")
    else:
        reconfigure(errors="backslashreplace")


def prepare_output(*, json_output: bool) -> None:
    """Make the process's stdout and stderr unable to fail on a character (``--json``: UTF-8)."""
    _tolerant(sys.stdout, utf8=json_output)
    _tolerant(sys.stderr)


def _writable(stream: TextIO, text: str) -> str:
    """``text`` as ``stream`` can write it: trees in ASCII and other characters its encoding lacks
    as escapes (a stream without an encoding takes any text)."""
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return text
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return text.translate(_ASCII_ART).encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        pass
    return text


def _is_utf8(stream: TextIO) -> bool:
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return True
    try:
        return codecs.lookup(encoding).name == "utf-8" and getattr(stream, "errors", "") != "strict"
    except LookupError:
        return False


class Console:
    def __init__(
        self,
        *,
        json_output: bool = False,
        verbose: int = 0,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.json = json_output
        self.verbose = verbose
        if stdout is None and stderr is None:
            prepare_output(json_output=json_output)
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self._documents = 0

    # -- results ----------------------------------------------------------------------------------

    def emit(self, data: dict[str, Any], text: str | Callable[[], str]) -> None:
        """Print a command's result: ``{"ok": true, **data}`` with ``--json``, else ``text``."""
        if self.json:
            self._json({"ok": True, **data})
        else:
            message = text() if callable(text) else text
            if message:
                self._print(self.stdout, message)

    def _json(self, data: dict[str, Any]) -> None:
        """Write the command's one JSON document, whole: made before a byte is written, so a
        failure cannot leave half of one; a second one (an error after the result) is not written,
        the error goes to stderr alone."""
        if self._documents:
            return
        text = json.dumps(data, indent=2, ensure_ascii=not _is_utf8(self.stdout), default=str)
        self._documents += 1
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def _print(self, stream: TextIO, text: str) -> None:
        print(_writable(stream, text), file=stream)

    # -- messages ---------------------------------------------------------------------------------

    def say(self, message: str) -> None:
        if not self.json:
            self._print(self.stderr, message)

    def warn(self, message: str) -> None:
        self._print(self.stderr, f"warning: {message}")

    def error(self, exc: ArtifactBackupError) -> None:
        self._print(self.stderr, f"error: {exc.message}")
        if exc.hint:
            self._print(self.stderr, exc.hint)
        if self.json:
            data: dict[str, Any] = {"ok": False, "error": exc.to_dict()}
            result = getattr(exc, "result", None)
            if result is not None and hasattr(result, "to_dict"):
                data["result"] = result.to_dict()
            self._json(data)

    def interrupted(self) -> None:
        print("\ninterrupted: re-run the same command to resume the upload", file=self.stderr)
        if self.json:
            self._json({"ok": False, "error": {"code": "interrupted", "exit_code": 130}})

    def crash(self, exc: BaseException) -> None:
        self._print(self.stderr, f"error: unexpected {type(exc).__name__}: {exc}")
        if self.verbose:
            traceback.print_exception(exc, file=self.stderr)
        else:
            print("(run with -v for the traceback)", file=self.stderr)
        if self.json:
            self._json(
                {
                    "ok": False,
                    "error": {"type": type(exc).__name__, "code": "unexpected", "message": str(exc),
                              "exit_code": EXIT_ERROR},
                }
            )

    # -- progress ---------------------------------------------------------------------------------

    def progress(self) -> Any:
        """The progress display (:mod:`._progress`): one live line when stderr is a terminal, plain
        lines in a log; none for a log under ``--json``, which is read by programs."""
        from ._progress import ProgressDisplay

        live = bool(getattr(self.stderr, "isatty", lambda: False)())
        if self.json and not live:
            return None
        return ProgressDisplay(self.stderr, live=live)
