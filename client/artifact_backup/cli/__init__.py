"""The ``artifact-backup`` command line.

Each command is a module of this package that parses its arguments, makes one library call and
formats the result; nothing else lives here but the shared options, the registry and the one error
boundary that turns :class:`~artifact_backup.exceptions.ArtifactBackupError` (and stray AWS errors)
into a message on stderr and an exit code.

Adding a command
----------------
Create ``artifact_backup/cli/<name>.py`` exposing::

    def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
        parser = commands.add_parser(
            "<name>", parents=[common], help="one line for the command list",
            description="...", epilog="Examples:\\n  artifact-backup <name> ...",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.add_argument(...)
        parser.set_defaults(run=run)

    def run(args: argparse.Namespace, console: Console) -> int:
        ...  # one library call, then console.emit(data_dict, text) ; return an exit code

``common`` carries the shared options, already parsed into ``args``: ``json`` (bool),
``profile``, ``region``, ``endpoint_url`` (str or None) and ``verbose`` (count).
:func:`artifact_backup.cli._console.load_settings` reads ``--config`` and applies the AWS options.
``console`` (:class:`artifact_backup.cli._console.Console`) prints results (JSON on stdout with
``--json``), warnings and progress. Raise :class:`ArtifactBackupError` subclasses for failures; the
boundary prints them and returns their ``exit_code``.

A module is registered when its name is in :data:`COMMAND_MODULES` (which fixes the order of the
command list) or, failing that, simply by existing in this package (names starting with ``_`` are
private). Module imports must stay cheap: import boto3 and other heavy libraries inside ``run`` so
``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from .._version import __version__
from ..exceptions import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, ArtifactBackupError
from ._console import Console, prepare_output
from ._usage import UsageError, UsageParser, report_usage_error, wants_json

#: Commands in the order ``--help`` lists them; modules not present are skipped.
COMMAND_MODULES: tuple[str, ...] = (
    "upload", "local", "demo", "runs", "show", "download", "restore", "diff", "pin", "unpin", "cost",
    "ls", "verify",
)

DESCRIPTION = """\
Back up every processing run's artifacts (config, logs, report, GIS data) to S3 in the user
guide's timestamped layout: s3://{bucket}/{project_key}/{type}/{YYYYMMDD_HHMM}/...
"""

EPILOG = """\
Examples:
  artifact-backup upload --config config.yaml --folder D:/Process360_Data/projects/RMI25320 \\
      --project-key RMI25320 --include config logs report --timestamp
  artifact-backup upload --config config.yaml --folder ./RMI25320 --include logs --dry-run -v
  artifact-backup <command> --help

Exit codes: 0 ok, 1 error, 2 bad arguments or config, 3 local stack, 4 nothing usable to upload,
5 S3 failure, 6 run refused by the filer, 7 no receipt in time, 8 no such run or file in the archive,
9 downloaded file does not match its checksum, 10 restore from Glacier needed, 11 verify --deep
needed, 130 interrupted.
"""


def common_options() -> argparse.ArgumentParser:
    """The options every command accepts (after the command name)."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("common options")
    group.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    group.add_argument("--profile", metavar="NAME", help="AWS profile (default: AWS_PROFILE, aws.profile)")
    group.add_argument("--region", metavar="REGION", help="AWS region (default: AWS_REGION, aws.region)")
    group.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="S3 endpoint, e.g. a local S3 server (default: AWS_ENDPOINT_URL, aws.endpoint_url)",
    )
    group.add_argument(
        "-v", "--verbose", action="count", default=0, help="say more (list files, dropped files, pieces)"
    )
    return common


def _command_modules() -> list[str]:
    names = list(COMMAND_MODULES)
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_") and info.name not in names:
            names.append(info.name)
    return names


def build_parser(
    prog: str | None = None, *, only: str | None = None
) -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """The whole command line, or with ``only`` one command of it: what a command's run needs.

    Registering every command imports every command module, a tenth of a second of an upload's
    start; the top-level help, a bad command name and ``--version`` still get them all.
    """
    parser = UsageParser(
        prog=prog or "artifact-backup",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    common = common_options()
    names = _command_modules()
    for name in [only] if only in names else names:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue
            raise
        register = getattr(module, "register", None)
        if callable(register):
            register(commands, common)
    return parser, commands


def _parse(
    argv: Sequence[str] | None, prog: str | None, command: str | None
) -> tuple[argparse.Namespace | None, int]:
    args_list = list(sys.argv[1:] if argv is None else argv)
    first = args_list[0] if args_list and not args_list[0].startswith("-") else None
    parser, commands = build_parser(prog, only=command or first)
    if command is not None:
        parser = commands.choices[command]
        if prog:
            parser.prog = prog
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, --version and usage errors
        code = exc.code if isinstance(exc.code, int) else (EXIT_USAGE if exc.code else 0)
        if isinstance(exc, UsageError) and wants_json(args_list):
            report_usage_error(exc.message, exc.hint)
        return None, code
    if getattr(args, "run", None) is None:
        parser.print_help(sys.stderr)
        if wants_json(args_list):
            report_usage_error("no command given", f"{parser.prog} --help lists the commands")
        return None, EXIT_USAGE
    return args, 0


#: glibc's ``M_MMAP_THRESHOLD`` option of ``mallopt``, and its default value.
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 128 * 1024


def _steady_heap() -> None:
    """Keep the command's memory from creeping up with the bytes it streams (glibc only).

    glibc gives each allocation above its mmap threshold a mapping of its own, returned when freed,
    but every such free raises the threshold (up to 32 MiB). A command that streams megabyte
    buffers (pack blocks, file chunks, upload parts) soon takes them from the heap instead, where
    freed blocks fragment and stay resident: 7-8 MB of a 10,000-file upload, none of it in use.
    Setting the threshold fixes it at its default. The library leaves the allocator alone; this is
    the command's own process.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt): nothing to tune
        return
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)


def main(argv: Sequence[str] | None = None, *, prog: str | None = None, command: str | None = None) -> int:
    """Run the command line; returns the exit code (the console script passes it to ``sys.exit``).

    ``command`` runs one command's parser as the whole program (``scripts/upload_to_s3.py`` is
    ``upload`` alone), with ``prog`` as its name in usage messages.
    """
    json_output = "--json" in (sys.argv[1:] if argv is None else argv)
    prepare_output(json_output=json_output)  # before argparse prints help or usage
    args, code = _parse(argv, prog, command)
    if args is None:  # --help, --version, or a usage error (reported as JSON too under --json)
        return code
    _steady_heap()
    console = Console(json_output=args.json, verbose=args.verbose)
    try:
        return int(args.run(args, console) or 0)
    except ArtifactBackupError as exc:
        console.error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        console.interrupted()
        return EXIT_INTERRUPTED
    except Exception as exc:
        from artifact_contract.s3 import is_aws_error

        from ..aws import translate_error

        if is_aws_error(exc):
            error = translate_error(exc)
            console.error(error)
            return error.exit_code
        console.crash(exc)
        return EXIT_ERROR
