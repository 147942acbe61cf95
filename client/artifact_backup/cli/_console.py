"""What every command shares: output (text or ``--json``), warnings, progress, and loading settings.

Results go to stdout (a JSON document with ``--json``, nothing else on stdout then); messages,
warnings, errors and the progress display (:mod:`._progress`) go to stderr: a line redrawn on a
terminal, a plain line at each tenth of the way in a log, none in a log under ``--json``.
"""

from __future__ import annotations

import argparse
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
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    # -- results ----------------------------------------------------------------------------------

    def emit(self, data: dict[str, Any], text: str | Callable[[], str]) -> None:
        """Print a command's result: ``{"ok": true, **data}`` with ``--json``, else ``text``."""
        if self.json:
            self._json({"ok": True, **data})
        else:
            message = text() if callable(text) else text
            if message:
                print(message, file=self.stdout)

    def _json(self, data: dict[str, Any]) -> None:
        json.dump(data, self.stdout, indent=2, ensure_ascii=False, default=str)
        self.stdout.write("\n")
        self.stdout.flush()

    # -- messages ---------------------------------------------------------------------------------

    def say(self, message: str) -> None:
        if not self.json:
            print(message, file=self.stderr)

    def warn(self, message: str) -> None:
        print(f"warning: {message}", file=self.stderr)

    def error(self, exc: ArtifactBackupError) -> None:
        print(f"error: {exc.message}", file=self.stderr)
        if exc.hint:
            print(exc.hint, file=self.stderr)
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
        print(f"error: unexpected {type(exc).__name__}: {exc}", file=self.stderr)
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
