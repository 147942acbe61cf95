"""Every log line the filer writes held to ``FilerConfig.max_error_chars`` per text field.

Errors quote what a client sent (a path, a key, a manifest's value), and an exception's traceback
quotes its message: a hostile run must not turn into megabytes of CloudWatch Logs per delivery.
"""

from __future__ import annotations

import logging
from typing import Any

from .exceptions import bounded_text

#: LogRecord attributes that are the record's own, not a caller's ``extra``.
_OWN = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class BoundedText(logging.Filter):
    """Cuts the message, every text ``extra`` and the formatted exception to ``limit`` characters."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if len(message) > self.limit:
            record.msg, record.args = bounded_text(message, self.limit), None
        for name, value in list(vars(record).items()):
            if name not in _OWN:
                record.__dict__[name] = self._bound(value)
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if len(text) > self.limit:
                # The formatter would print the whole exception again: give it the cut text only.
                record.exc_info, record.exc_text = None, bounded_text(text, self.limit)
                record.__dict__["exception"] = record.exc_text
        return True

    def _bound(self, value: Any) -> Any:
        if isinstance(value, str):
            return bounded_text(value, self.limit)
        if isinstance(value, dict):
            return {k: self._bound(v) for k, v in value.items()}
        return value


def bound_log(logger: logging.Logger | Any, limit: int) -> None:
    """Install the bound on ``logger`` (a standard or a powertools logger) once."""
    if not any(isinstance(f, BoundedText) for f in getattr(logger, "filters", [])):
        logger.addFilter(BoundedText(limit))
