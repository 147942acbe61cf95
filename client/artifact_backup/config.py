"""Reading ``config.yaml`` as the user guide writes it.

The workflow's config file carries many sections this package does not own; only the keys below are
read, and everything else is left alone. Every error names the key and says how to fix it, because
the reader is an operator looking at a failed run, not a developer.

Keys (defaults in brackets)::

    orchestrator:
      upload_artifacts_to_s3: false        # [false] automatic upload after a successful workflow
      artifact_types: [config, logs, report]
      artifact_paths:                      # [{type}] each type's folder, relative to the project folder
        logs: logs
    project:
      slug: RMI25320                       # default --project-key
    aws:
      s3_bucket_raw: rmi-360-raw           # the archive (required to upload)
      s3_bucket_staging: rmi-360-raw-staging   # [{s3_bucket_raw}-staging]
      region: eu-west-1                    # [AWS_REGION / AWS_DEFAULT_REGION / profile]
      endpoint_url: http://127.0.0.1:5000  # [AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL / AWS]
      profile: backup                      # [AWS_PROFILE / default chain]
      transfer:                            # upload tuning, see UploadConfig
        max_concurrency: 10
        multipart_threshold_mb: 8
        multipart_chunksize_mb: 8
        pack_threshold_mb: 8
        pack_max_mb: 64
        wait_timeout_seconds: 900
        skip_unchanged: true               # [true] large files the archive holds are not sent again
    cost:                                  # prices for `artifact-backup cost` (see archive/prices.py)
      currency: USD
      download_gb: 0.09                    # [the guide's price]
      storage_gb_month: {STANDARD: 0.023, GLACIER: 0.0036}   # merged over the defaults
      transition_days: 90                  # [90] as the archive's lifecycle rule
      transition_storage_class: GLACIER
      min_transition_kb: 128

Precedence for the AWS settings follows the AWS tools: command line, then environment variables,
then this file.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artifact_contract import DEFAULT_ARTIFACT_TYPES, ContractError, validate_project_key

from .archive.prices import Prices
from .config_sections import (
    artifact_paths,
    artifact_types,
    buckets,
    check_endpoint,
    cost,
    endpoint,
    project_slug,
    section,
    string,
    transfer,
    upload_switch,
)
from .exceptions import (
    ArgumentInvalidError,
    ConfigInvalidError,
    ConfigKeyMissingError,
    ConfigNotFoundError,
)
from .transfer import UploadConfig


@dataclass(frozen=True)
class Settings:
    """What this package needs from ``config.yaml``, merged with the environment."""

    config_path: Path | None = None
    upload_artifacts_to_s3: bool = False
    artifact_types: tuple[str, ...] = DEFAULT_ARTIFACT_TYPES
    artifact_paths: Mapping[str, str] = field(default_factory=dict)
    project_slug: str | None = None
    archive_bucket: str | None = None
    staging_bucket: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    transfer: UploadConfig = field(default_factory=UploadConfig)
    cost: Prices = field(default_factory=Prices)

    def type_folder(self, artifact_type: str) -> str:
        """The type's folder relative to the project folder (or absolute), as configured."""
        return self.artifact_paths.get(artifact_type, artifact_type)

    def require_archive_bucket(self) -> str:
        if not self.archive_bucket:
            where = str(self.config_path) if self.config_path else "config.yaml"
            raise ConfigKeyMissingError(
                "Missing aws.s3_bucket_raw in config",
                key="aws.s3_bucket_raw",
                hint=f'Add to your config ({where}):\n\naws:\n  s3_bucket_raw: "rmi-360-raw"',
            )
        return self.archive_bucket

    def require_staging_bucket(self) -> str:
        return self.staging_bucket or f"{self.require_archive_bucket()}-staging"

    def with_overrides(
        self,
        *,
        profile: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
    ) -> Settings:
        """Apply command-line AWS options, which win over the environment and the file."""
        changes: dict[str, Any] = {}
        if profile:
            changes["profile"] = profile
        if region:
            changes["region"] = region
        if endpoint_url:
            changes["endpoint_url"] = check_endpoint(endpoint_url, "--endpoint-url")
        return dataclasses.replace(self, **changes) if changes else self

    def resolve_project_key(self, project_key: str | None) -> str:
        """``--project-key``, else ``project.slug``; checked against the contract either way."""
        if project_key:
            source, key = "--project-key", project_key
        elif self.project_slug:
            source, key = "project.slug", self.project_slug
        else:
            raise ArgumentInvalidError(
                "no project key: pass --project-key (e.g. --project-key RMI25320)",
                hint="or set project.slug in the config file",
            )
        try:
            return validate_project_key(key)
        except ContractError as exc:
            raise ArgumentInvalidError(f"{source}: {exc}") from None


def settings_from_mapping(
    data: Mapping[str, Any],
    *,
    config_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build settings from an already-parsed config (the orchestrator may hold one in memory)."""
    env = os.environ if environ is None else environ
    orchestrator = section(data, "orchestrator")
    aws = section(data, "aws")
    archive, staging = buckets(aws)
    return Settings(
        config_path=config_path,
        upload_artifacts_to_s3=upload_switch(orchestrator),
        artifact_types=artifact_types(orchestrator),
        artifact_paths=artifact_paths(orchestrator),
        project_slug=project_slug(section(data, "project")),
        archive_bucket=archive,
        staging_bucket=staging,
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or string(aws, "aws", "region"),
        endpoint_url=endpoint(aws, env),
        profile=env.get("AWS_PROFILE") or string(aws, "aws", "profile"),
        transfer=transfer(aws),
        cost=cost(data),
    )


def native_path(value: str | os.PathLike[str]) -> Path:
    """A path as the user typed it, made usable on this system.

    Windows users write ``D:\\data\\RMI25320`` or ``D:/data/RMI25320``; on Windows both work as-is.
    Elsewhere backslashes become ``/`` when the path does not exist as typed (a POSIX name may hold
    a backslash), so a config copied between machines still reads sensibly.
    """
    text = os.fspath(value)
    path = Path(text)
    if os.name != "nt" and "\\" in text and not path.exists():
        path = Path(text.replace("\\", "/"))
    return path


def looks_like_windows_drive(value: str | os.PathLike[str]) -> bool:
    return os.name != "nt" and bool(re.match(r"^[A-Za-z]:[\\/]", os.fspath(value)))


def load_config(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and check the config file; nothing is required unless an upload actually needs it."""
    import yaml

    config_path = native_path(path)
    if not config_path.is_file():
        what = "is a folder, not a file" if config_path.is_dir() else "not found"
        hint = "pass --config with the path of the workflow's config.yaml"
        if looks_like_windows_drive(path):
            hint += " (a Windows drive path cannot be opened on this system)"
        raise ConfigNotFoundError(f"config file {os.fspath(path)} {what}", hint=hint)
    try:
        with config_path.open("rb") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise ConfigInvalidError(
            f"config file {config_path} cannot be read: {exc.strerror or exc}"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigInvalidError(
            f"config file {config_path} is not valid YAML{where}: {problem}",
            hint="check the indentation and quoting around that line",
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigInvalidError(
            f"config file {config_path} must hold a mapping of sections (orchestrator:, aws:, ...)"
        )
    return settings_from_mapping(data, config_path=config_path.absolute(), environ=environ)
