"""The run timestamp: ``YYYYMMDD_HHMM``, one per run, shared by all its artifact types."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from .exceptions import TimestampInvalidError

TIMESTAMP_FORMAT = "%Y%m%d_%H%M"
_TIMESTAMP_RE = re.compile(r"[0-9]{8}_[0-9]{4}")


def is_timestamp_form(value: str) -> bool:
    """Whether a folder name has a run timestamp's shape (``YYYYMMDD_HHMM``), real date or not."""
    return bool(_TIMESTAMP_RE.fullmatch(value))


def parse_timestamp(value: str) -> datetime:
    """Parse a run timestamp, refusing anything that is not a real date and time.

    ``strptime`` alone accepts ``2025101_1200``-like oddities and single-digit fields, so the shape
    is checked first: a folder name must sort and read the same everywhere.
    """
    if not isinstance(value, str) or not _TIMESTAMP_RE.fullmatch(value):
        raise TimestampInvalidError(
            f"timestamp {value!r} is not in the form YYYYMMDD_HHMM (for example 20251030_1200)"
        )
    try:
        return datetime.strptime(value, TIMESTAMP_FORMAT)
    except ValueError:
        raise TimestampInvalidError(
            f"timestamp {value!r} is not a real date and time: use YYYYMMDD_HHMM, "
            "for example 20251030_1200"
        ) from None


def validate_timestamp(value: str) -> str:
    """Return ``value`` unchanged once it is known to be a valid run timestamp."""
    parse_timestamp(value)
    return value


def format_timestamp(moment: datetime | None = None) -> str:
    """Stamp a run; local wall-clock time by default, as the operators read it on their screens."""
    moment = moment or datetime.now(UTC).astimezone()
    return moment.strftime(TIMESTAMP_FORMAT)
