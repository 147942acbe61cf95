"""Argument errors as ``--json`` reports them: one JSON document on stdout, like every other outcome.

argparse prints its usage errors to stderr and exits with 2, before any command runs; a program
reading ``--json`` output would get nothing at all. :class:`UsageParser` keeps argparse's message
(still printed to stderr for people) on the ``SystemExit`` it raises, so the command line can
report it as the ``argument-invalid`` error every other bad argument is.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from ..exceptions import EXIT_USAGE, ArgumentInvalidError
from ._console import Console


class UsageError(SystemExit):
    """argparse's exit on a usage error, carrying its message and how to see the options."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(EXIT_USAGE)
        self.message = message
        self.hint = hint


class UsageParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` (and, through ``add_subparsers``, every command's) whose usage errors
    raise :class:`UsageError`; stderr gets argparse's usage and message as before."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise UsageError(message, f"{self.prog} --help lists the options")


def wants_json(argv: Sequence[str]) -> bool:
    """Whether ``--json`` is among the options (before a ``--`` that ends them)."""
    for arg in argv:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def report_usage_error(message: str, hint: str | None = None) -> None:
    """The usage error as ``--json`` reports errors: ``{"ok": false, "error": {...}}`` on stdout."""
    error = ArgumentInvalidError(message, hint=hint)
    Console(json_output=True)._json({"ok": False, "error": error.to_dict()})  # noqa: SLF001 - one writer
