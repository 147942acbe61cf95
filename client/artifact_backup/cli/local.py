"""``artifact-backup local``: the backend on this machine, for trying the client against it."""

from __future__ import annotations

import argparse
import threading
from typing import TYPE_CHECKING

from ..exceptions import EXIT_OK
from ._console import Console
from ._signals import sigterm_interrupts

if TYPE_CHECKING:
    from ..local import LocalSession

DESCRIPTION = """\
Start the embedded S3 server (moto in server mode, or LocalStack with --backend localstack) on
127.0.0.1, create the staging and archive
buckets, the filing queue with its dead-letter queue and the staging bucket's notification as the
CDK stack does, and run the filer on the queue's events until interrupted (Ctrl-C). It prints the
aws: block of config.yaml that points a client at it.
"""

EPILOG = """\
Examples:
  artifact-backup local --port 5000
  artifact-backup local --filer-timeout 5     # large runs continue across filer invocations
  artifact-backup local --backend localstack  # the stricter server (make localstack installs it)
  # then, in another terminal, with the printed aws: block in config.yaml:
  artifact-backup upload --config config.yaml --folder ./RMI25320 --project-key RMI25320 \\
      --include logs --timestamp
"""


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "local",
        parents=[common],
        help="run the backend (S3 server, queue, filer) on 127.0.0.1 until interrupted",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--port", type=int, default=5000, help="port on 127.0.0.1 (default: %(default)s; 0 = any)"
    )
    add_backend_option(parser)
    parser.add_argument("--archive-bucket", default="rmi-360-raw", help="default: %(default)s")
    parser.add_argument("--staging-bucket", help="default: {archive bucket}-staging")
    parser.add_argument(
        "--filer-timeout", type=_seconds, metavar="SECONDS",
        help="each filer invocation's time, as the function's timeout (default: 900, Lambda's "
             "limit); with a few seconds a large run is filed over several invocations",
    )
    parser.set_defaults(run=run)


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    from ..local.backends import BACKENDS, MOTO

    parser.add_argument(
        "--backend", choices=BACKENDS, default=MOTO,
        help="the S3 server: moto (default) or LocalStack, stricter and closer to S3; it runs in its "
             "own Python 3.13 environment that `make localstack` installs and "
             "ARTIFACT_BACKUP_LOCALSTACK_PYTHON names",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 900:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 900 seconds (Lambda's limit)")
    return value


def run(args: argparse.Namespace, console: Console, stop: threading.Event | None = None) -> int:
    from ..local import LocalSession, LocalStackNames

    names = LocalStackNames(
        archive_bucket=args.archive_bucket,
        staging_bucket=args.staging_bucket or f"{args.archive_bucket}-staging",
    )
    session = LocalSession(port=args.port, names=names, filer_timeout_seconds=args.filer_timeout,
                           backend=args.backend)
    with sigterm_interrupts():
        return _serve(session, console, stop)


def _serve(session: LocalSession, console: Console, stop: threading.Event | None) -> int:
    names = session.names
    try:
        stack = session.start()
        console.emit(
            {
                "command": "local",
                "endpoint_url": stack.endpoint_url,
                "archive_bucket": names.archive_bucket,
                "staging_bucket": names.staging_bucket,
                "region": stack.region,
                "backend": session.server.backend,
            },
            "Local backend running. Put this in config.yaml:\n\n"
            + stack.config_block()
            + "\nPress Ctrl-C to stop (nothing is kept once it stops).",
        )
        console.stdout.flush()
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        console.say("stopped")
    finally:
        session.stop()
    return EXIT_OK
