"""What the commands that read the archive share: where the archive is, and plain-text tables.

Reading needs only the archive bucket, so ``--bucket`` works without a config file (an operator on
another machine than the processing PC); ``--config`` is still read when it exists, for the AWS
options and the ``cost:`` prices.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..config import Settings, load_config, settings_from_mapping
from ..config_sections import check_bucket
from ..exceptions import ConfigInvalidError
from ._console import Console, human_bytes

if TYPE_CHECKING:
    from ..archive import ArchiveReader

DEFAULT_CONFIG = "config.yaml"


def add_archive_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("archive options")
    group.add_argument("--config", default=DEFAULT_CONFIG, metavar="PATH",
                       help="the workflow's config.yaml, for aws.s3_bucket_raw, the AWS options and "
                            "cost: prices (default: %(default)s; optional with --bucket)")
    group.add_argument("--bucket", metavar="NAME", help="the archive bucket (default: aws.s3_bucket_raw)")


def archive_settings(args: argparse.Namespace) -> Settings:
    """``--config`` (skipped when absent and ``--bucket`` says where the archive is), then the
    command line's AWS options and bucket."""
    bucket = getattr(args, "bucket", None)
    if bucket and args.config == DEFAULT_CONFIG and not os.path.exists(args.config):
        settings = settings_from_mapping({})
    else:
        settings = load_config(args.config)
    if bucket:
        try:
            settings = dataclasses.replace(settings, archive_bucket=check_bucket(bucket, "--bucket"))
        except ConfigInvalidError as exc:
            exc.hint = "give the bucket's name only, e.g. --bucket rmi-360-raw"
            raise
    return settings.with_overrides(profile=args.profile, region=args.region, endpoint_url=args.endpoint_url)


def open_reader(args: argparse.Namespace, console: Console | None = None, *,
                progress: bool = False) -> tuple[ArchiveReader, Settings]:
    """The archive reader for the command line's settings, with a progress line when wanted."""
    from ..archive import ArchiveReader

    settings = archive_settings(args)
    subscribers = []
    if progress and console is not None:
        line = console.progress()
        if line is not None:
            subscribers.append(line)
    return ArchiveReader.from_settings(settings, subscribers=subscribers), settings


def close_progress(reader: ArchiveReader) -> None:
    for subscriber in reader.subscribers:
        close = getattr(subscriber, "close", None)
        if close:
            close()


def repeat_options(args: argparse.Namespace) -> list[str]:
    """The options a follow-up command needs to reach the same archive (only those given)."""
    options: list[str] = []
    if args.config != DEFAULT_CONFIG:
        options += ["--config", args.config]
    for flag, value in (("--bucket", getattr(args, "bucket", None)), ("--profile", args.profile),
                        ("--region", args.region), ("--endpoint-url", args.endpoint_url)):
        if value:
            options += [flag, value]
    return options


# -- formatting ------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, right: Sequence[int] = (),
          indent: str = "") -> str:
    """Columns padded to their widest cell; ``right`` lists the columns aligned right (numbers)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths,
                                                                                          strict=True))]
        lines.append((indent + "  ".join(parts)).rstrip())
    return "\n".join(lines)


def storage_text(storage: dict[str, int] | None) -> str:
    """``STANDARD`` when a run is in one class, else ``STANDARD 11, GLACIER 1``."""
    if storage is None:
        return "-"
    if not storage:
        return "(no files)"
    if len(storage) == 1:
        return next(iter(storage))
    return ", ".join(f"{name} {count}" for name, count in storage.items())


def money(value: float, currency: str = "USD") -> str:
    """Cents for real money; small amounts keep enough decimals not to read as nothing."""
    size = abs(value)
    if size == 0 or size >= 1:
        text = f"{value:,.2f}"
    elif size >= 0.01:
        text = f"{value:.4f}"
    else:
        text = f"{value:.6f}"
    return f"${text}" if currency == "USD" else f"{text} {currency}"


def size_text(n: int) -> str:
    return human_bytes(n)


def shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
