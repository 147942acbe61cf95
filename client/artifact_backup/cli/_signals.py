"""SIGTERM handled like Ctrl-C by the commands that own a server process.

Python's default SIGTERM ends the interpreter without unwinding, so a ``finally`` that stops the
embedded server never runs. Raised as :class:`KeyboardInterrupt` instead, it unwinds through the
same cleanup as Ctrl-C does (a service manager or ``kill`` stops the stack as a terminal would).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt in the main thread (elsewhere: no-op)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
