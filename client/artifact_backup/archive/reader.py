"""One object for every read of the archive, so a caller passes its client, bucket and tuning once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import RunNotFoundError
from . import cost as _cost
from . import diff as _diff
from . import download as _download
from . import pin as _pin
from . import restore as _restore
from . import runs as _runs
from .config import ReadConfig
from .prices import Prices

if TYPE_CHECKING:
    from ..config import Settings

#: The RUN argument of ``download`` and ``restore`` that means every run of the project.
ALL_RUNS = "all"


class ArchiveReader:
    """Lists, shows, downloads, restores, compares, pins and prices the runs of an archive bucket.

    :param client: a boto3 S3 client (``artifact_backup.make_s3_client(settings)``).
    :param bucket: the archive bucket (``aws.s3_bucket_raw``).
    :param config: tuning; the defaults suit a workstation on an office line.
    :param subscribers: download progress receivers; each may define ``on_download_planned(files,
        bytes)``, ``on_bytes_received(amount)`` and ``on_file_downloaded(path, size, skipped)``.

    Every method raises :class:`~artifact_backup.exceptions.ArtifactBackupError` subclasses only:
    ``RunNotFoundError`` (exit 8), ``ChecksumMismatchError`` (9), ``RestoreRequiredError`` (10),
    ``ArchiveReadError`` (5) for S3 failures, ``ArgumentInvalidError`` (2).
    """

    def __init__(self, client: Any, bucket: str, *, config: ReadConfig | None = None,
                 subscribers: Iterable[Any] = ()) -> None:
        self.client = client
        self.bucket = bucket
        self.config = config or ReadConfig()
        self.subscribers = list(subscribers)

    @classmethod
    def from_settings(cls, settings: Settings, *, client: Any = None,
                      subscribers: Iterable[Any] = ()) -> ArchiveReader:
        """The archive named by ``aws.s3_bucket_raw``, with ``aws.transfer``'s concurrency."""
        from ..aws import make_s3_client

        bucket = settings.require_archive_bucket()
        return cls(client if client is not None else make_s3_client(settings), bucket,
                   config=ReadConfig.from_upload_config(settings.transfer), subscribers=subscribers)

    # -- finding runs ------------------------------------------------------------------------------

    def runs(self, project_key: str, *, storage: bool = True) -> _runs.RunListing:
        """Every run of the project, oldest first; ``storage`` adds where its files are now."""
        return _runs.list_runs(self.client, self.bucket, project_key, storage=storage,
                               workers=self.config.max_concurrency)

    def run(self, project_key: str, run: str, *, storage: bool = True) -> _runs.RunSummary:
        """One run (timestamp, ``latest``, run id or its first characters) with its pin note."""
        return _runs.load_run(self.client, self.bucket, project_key, run, storage=storage,
                              workers=self.config.max_concurrency)

    def select(self, project_key: str, run: str) -> list[_runs.RunSummary]:
        """``run`` resolved to runs: one, or every run of the project for ``all``."""
        if run.strip() == ALL_RUNS:
            listing = self.runs(project_key, storage=True)
            if not listing.runs:
                raise RunNotFoundError(f"project {project_key} has no run in the archive")
            return list(listing.runs)
        return [self.run(project_key, run)]

    # -- reading files -----------------------------------------------------------------------------

    def download(
        self,
        project_key: str,
        run: str,
        destination: str | Path,
        *,
        include: Iterable[str] | None = None,
        files: Iterable[str] | None = None,
        restore_options: Sequence[str] = (),
        safe_names: bool = False,
    ) -> _download.DownloadResult:
        """Download one run (or ``all``, each into its own ``{run}/`` folder), verified; names the
        destination cannot hold stop it first, or with ``safe_names`` are written as safe names."""
        summaries = self.select(project_key, run)
        return _download.download(
            self.client, self.bucket, summaries, destination, run_argument=_name(run, summaries),
            include=include, files=files, per_run_folders=run.strip() == ALL_RUNS, config=self.config,
            subscribers=self.subscribers, restore_options=restore_options, safe_names=safe_names,
        )

    def restore(
        self,
        project_key: str,
        run: str,
        *,
        include: Iterable[str] | None = None,
        files: Iterable[str] | None = None,
        tier: str = "Standard",
        days: int | None = None,
    ) -> _restore.RestoreResult:
        """Start restores of the run's archived files (``all``: of every run)."""
        _restore.check_request(tier, self.config.restore_days if days is None else days)
        summaries = self.select(project_key, run)
        return _restore.restore(self.client, self.bucket, summaries, run_argument=_name(run, summaries),
                                include=include, files=files, tier=tier, days=days, config=self.config)

    def diff(self, project_key: str, run_a: str, run_b: str, *,
             restore_options: Sequence[str] = ()) -> _diff.RunDiff:
        """What changed from ``run_a`` to ``run_b``: config diff first, then files by checksum."""
        a = self.run(project_key, run_a, storage=False)
        b = self.run(project_key, run_b, storage=False)
        return _diff.diff_runs(self.client, self.bucket, a, b, config=self.config,
                               restore_options=restore_options)

    # -- retention and cost ------------------------------------------------------------------------

    def pin(self, project_key: str, run: str, note: str) -> _pin.PinResult:
        """Keep the run out of every expiration rule, saying why."""
        return _pin.set_retention(self.client, self.bucket, self.run(project_key, run, storage=False),
                                  pinned=True, note=note, workers=self.config.max_concurrency)

    def unpin(self, project_key: str, run: str, note: str = "") -> _pin.PinResult:
        """Hand the run back to the standard retention rules."""
        return _pin.set_retention(self.client, self.bucket, self.run(project_key, run, storage=False),
                                  pinned=False, note=note, workers=self.config.max_concurrency)

    def cost(self, project_key: str, prices: Prices | None = None) -> _cost.CostReport:
        """Monthly storage now and after the lifecycle transition, and one-off request charges."""
        objects, runs, missing = _cost.collect(self.client, self.bucket, project_key,
                                               workers=self.config.max_concurrency)
        return _cost.estimate(project_key, objects, prices or Prices(), runs=runs, missing_files=missing)


def _name(run: str, summaries: list[_runs.RunSummary]) -> str:
    """How results and follow-up commands name the runs: ``all``, or the one run's own label (so a
    printed restore command still means this run after a newer one makes ``latest`` another)."""
    return ALL_RUNS if run.strip() == ALL_RUNS else summaries[0].label
