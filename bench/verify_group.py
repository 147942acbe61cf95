"""Verify a filed run two ways: by S3's stored checksums (the default) and by reading every byte.

The run is uploaded and filed once (measured as our upload and filer), then ``artifact-backup
verify PROJECT TIMESTAMP --json`` and the same with ``--deep`` alternate, the first of the pair
changing with each repetition. Verifying reads and changes nothing, so repeating it on one filed
run measures the same work each time; filing a 20,000-file run again for every repetition would
triple the scenario's time for nothing.

A client whose ``verify`` has no ``--deep`` (it reads every byte by default) cannot be compared
with itself: the default is still measured, so the mechanics stay checked, and the target says
"not measurable". :class:`VerifyGroups` is mixed into the runner's
:class:`bench.runner.Bench`.
"""

from __future__ import annotations

import sys
from typing import Any

from .measure import ToolFailedError, run_child

OURS_VERIFY = "ours verify"
OURS_VERIFY_DEEP = "ours verify --deep"
GROUP_VERIFY = "verify"

#: What is kept of verify's JSON document in the results: enough to see it checked every file.
_KEPT = ("files_verified", "bytes_read", "requests", "ok")


def verify_has_deep(boot: str, env: dict[str, str], timeout_s: float = 120.0) -> bool:
    """Whether this client's ``verify`` offers ``--deep`` (its help names the option)."""
    child = run_child([sys.executable, "-c", boot, "verify", "--help"], env, timeout_s)
    return child.returncode == 0 and "--deep" in child.stdout


class VerifyGroups:
    """The verify scenario (mixed into the benchmark's runner)."""

    def _run_timestamp(self: Any, stack: Any, project: str, artifact_type: str) -> str:
        """The run's YYYYMMDD_HHMM, from the archive's ``{project}/{type}/{timestamp}/`` folders."""
        listed = self.s3.list_objects_v2(
            Bucket=stack.names.archive_bucket, Prefix=f"{project}/{artifact_type}/", Delimiter="/"
        )
        folders = [p["Prefix"].rstrip("/").rsplit("/", 1)[-1] for p in listed.get("CommonPrefixes", [])]
        if len(folders) != 1:
            raise ToolFailedError(f"expected one filed run of {project}, found {folders}")
        return folders[0]

    def _verify_once(
        self: Any, scenario: Any, tool: str, rep: int, argv: list[str], env: dict[str, str]
    ) -> None:
        m = self.meter.measure(scenario.name, tool, rep, argv, env)
        m.inner = {k: m.inner[k] for k in _KEPT if k in m.inner}
        if m.inner.get("files_verified") != scenario.dataset.files:
            raise ToolFailedError(
                f"{tool} on {scenario.name}: verified {m.inner.get('files_verified')} files, "
                f"expected {scenario.dataset.files}"
            )
        self._record(m)

    def run_verify(self: Any, scenario: Any, reps: int, boot: str) -> None:
        """File the run once, then time verify's default against ``--deep`` ``reps`` times."""
        try:
            stack, config = self.group_ours(scenario, 0)
            project = scenario.dataset.project.name
            timestamp = self._run_timestamp(stack, project, scenario.include[0])
            env = self._client_env(config.parent)
            argv = [sys.executable, "-c", boot, "verify", project, timestamp, "--json",
                    "--config", str(config)]
            deep = verify_has_deep(boot, env)
            if not deep:
                self.progress(f"  {scenario.name}: this client's verify has no --deep; "
                              "measuring the default only")
            for rep in range(reps):
                pair = [(OURS_VERIFY, argv), (OURS_VERIFY_DEEP, [*argv, "--deep"])] if deep else [
                    (OURS_VERIFY, argv)]
                for tool, command in pair[rep % len(pair):] + pair[: rep % len(pair)]:
                    self._verify_once(scenario, tool, rep, command, env)
        except ToolFailedError as exc:
            self.progress(f"  {scenario.name} {GROUP_VERIFY}: FAILED: {exc}")
            self.log.errors.append(
                {"scenario": scenario.name, "group": GROUP_VERIFY, "rep": 0, "error": str(exc)}
            )
