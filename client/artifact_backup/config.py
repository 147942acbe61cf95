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

from artifact_contract import ARTIFACT_TYPES, DEFAULT_ARTIFACT_TYPES, ContractError, validate_project_key

from .archive.prices import SCALAR_KEYS, STORAGE_CLASSES, TABLE_KEYS, Prices
from .exceptions import (
    ArgumentInvalidError,
    ConfigInvalidError,
    ConfigKeyMissingError,
    ConfigNotFoundError,
)
from .transfer import KB, MB, UploadConfig

_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_CHOICES = ", ".join(ARTIFACT_TYPES)

#: ``aws.transfer`` keys: (UploadConfig field, unit multiplier, integer?).
_TRANSFER_KEYS: dict[str, tuple[str, float, bool]] = {
    "max_concurrency": ("max_concurrency", 1, True),
    "multipart_threshold_mb": ("multipart_threshold", MB, True),
    "multipart_chunksize_mb": ("multipart_chunksize", MB, True),
    "pack_threshold_mb": ("pack_threshold", MB, True),
    "pack_max_mb": ("pack_max_bytes", MB, True),
    "wait_timeout_seconds": ("wait_timeout", 1, False),
}
#: ``aws.transfer`` switches (true/false): UploadConfig field.
_TRANSFER_SWITCHES: dict[str, str] = {"skip_unchanged": "skip_unchanged"}


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
            changes["endpoint_url"] = _check_endpoint(endpoint_url, "--endpoint-url")
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


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigInvalidError(
            f"{name} in config must be a mapping of keys, not {type(value).__name__}",
            key=name,
            hint=f"write it as\n\n{name}:\n  key: value",
        )
    return value


def _string(section: Mapping[str, Any], name: str, key: str) -> str | None:
    value = section.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigInvalidError(
            f"{name}.{key} in config must be a text value, not {type(value).__name__}",
            key=f"{name}.{key}",
            hint=f'write it as {key}: "value"',
        )
    text = str(value).strip()
    return text or None


def _check_bucket(name: str, key: str) -> str:
    if name.lower().startswith("s3://") or "/" in name:
        raise ConfigInvalidError(
            f"{key} in config must be a bucket name, not {name!r}",
            key=key,
            hint=f'write only the name, e.g. {key.split(".")[-1]}: "rmi-360-raw" (no s3:// and no folder)',
        )
    if not _BUCKET_RE.fullmatch(name) or ".." in name:
        raise ConfigInvalidError(
            f"{key} in config is not a valid S3 bucket name: {name!r}",
            key=key,
            hint="bucket names are 3-63 characters: lowercase letters, digits, '.' and '-'",
        )
    return name


def _check_endpoint(url: str, key: str) -> str:
    if not re.match(r"https?://[^/\s]+", url):
        raise ConfigInvalidError(
            f"{key} must be an http:// or https:// URL, not {url!r}",
            key=key,
            hint="for example http://127.0.0.1:5000 for a local S3 server",
        )
    return url.rstrip("/")


def _check_types(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_ARTIFACT_TYPES
    if isinstance(value, str) or not isinstance(value, list):
        raise ConfigInvalidError(
            f"{key} in config must be a list, not {type(value).__name__}",
            key=key,
            hint=f"write it as\n\n  artifact_types:\n    - config\n    - logs\n\nchoices: {_CHOICES}",
        )
    types: list[str] = []
    for item in value:
        if item not in ARTIFACT_TYPES:
            raise ConfigInvalidError(
                f"{key} in config lists unknown artifact type {item!r}",
                key=key,
                hint=f"choose from {_CHOICES}",
            )
        if item not in types:
            types.append(item)
    return tuple(types)


def _transfer(section: Mapping[str, Any]) -> UploadConfig:
    raw = _section(section, "transfer") if "transfer" in section else {}
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _TRANSFER_SWITCHES:
            if not isinstance(value, bool):
                raise ConfigInvalidError(
                    f"aws.transfer.{key} must be true or false, not {value!r}",
                    key=f"aws.transfer.{key}",
                    hint=f"write {key}: false (no quotes)",
                )
            changes[_TRANSFER_SWITCHES[key]] = value
            continue
        spec = _TRANSFER_KEYS.get(key)
        if spec is None:
            raise ConfigInvalidError(
                f"aws.transfer.{key} is not a known setting",
                key=f"aws.transfer.{key}",
                hint="known settings: " + ", ".join([*_TRANSFER_KEYS, *_TRANSFER_SWITCHES]),
            )
        attr, unit, integer = spec
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigInvalidError(
                f"aws.transfer.{key} must be a positive number, not {value!r}",
                key=f"aws.transfer.{key}",
            )
        changes[attr] = int(value * unit) if integer else float(value * unit)
    try:
        return UploadConfig(**changes)
    except ValueError as exc:
        raise ConfigInvalidError(f"aws.transfer: {exc}", key="aws.transfer") from None


def _price(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigInvalidError(f"{key} must be a price (a number, 0 or more), not {value!r}", key=key)
    return float(value)


def _cost(data: Mapping[str, Any]) -> Prices:
    """``cost:``: prices and lifecycle assumptions for cost estimates, each over the defaults."""
    raw = _section(data, "cost")
    defaults = Prices()
    changes: dict[str, Any] = {}
    known = {*SCALAR_KEYS, *TABLE_KEYS, "currency", "transition_days", "transition_storage_class",
             "min_transition_kb"}
    for key, value in raw.items():
        name = f"cost.{key}"
        if key not in known:
            raise ConfigInvalidError(f"{name} is not a known setting", key=name,
                                     hint="known settings: " + ", ".join(sorted(known)))
        if key in SCALAR_KEYS:
            changes[key] = _price(value, name)
        elif key in TABLE_KEYS:
            if not isinstance(value, Mapping):
                raise ConfigInvalidError(f"{name} must map storage classes to prices", key=name,
                                         hint=f"for example\n\ncost:\n  {key}:\n    GLACIER: 0.0036")
            table = dict(getattr(defaults, key))
            for storage_class, price in value.items():
                if storage_class not in STORAGE_CLASSES:
                    raise ConfigInvalidError(f"{name} names unknown storage class {storage_class!r}",
                                             key=name, hint="choose from " + ", ".join(STORAGE_CLASSES))
                table[storage_class] = _price(price, f"{name}.{storage_class}")
            changes[key] = table
        elif key == "currency":
            changes[key] = _string(raw, "cost", key) or defaults.currency
        elif key == "transition_storage_class":
            if value not in STORAGE_CLASSES or value == "STANDARD":
                raise ConfigInvalidError(f"{name} must be a storage class to move to, not {value!r}",
                                         key=name, hint="for example GLACIER or DEEP_ARCHIVE")
            changes[key] = value
        else:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigInvalidError(f"{name} must be a whole number, 0 or more, not {value!r}",
                                         key=name)
            if key == "min_transition_kb":
                changes["min_transition_bytes"] = value * KB
            else:
                changes[key] = value
    if not changes:
        return defaults
    changes["source"] = f"cost: in config.yaml ({', '.join(sorted(raw))}) over {defaults.source}"
    return dataclasses.replace(defaults, **changes)


def settings_from_mapping(
    data: Mapping[str, Any],
    *,
    config_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build settings from an already-parsed config (the orchestrator may hold one in memory)."""
    env = os.environ if environ is None else environ
    orchestrator = _section(data, "orchestrator")
    aws = _section(data, "aws")
    project = _section(data, "project")

    switch = orchestrator.get("upload_artifacts_to_s3", False)
    if switch is None:
        switch = False
    if not isinstance(switch, bool):
        raise ConfigInvalidError(
            f"orchestrator.upload_artifacts_to_s3 in config must be true or false, not {switch!r}",
            key="orchestrator.upload_artifacts_to_s3",
            hint="write upload_artifacts_to_s3: true (no quotes)",
        )
    types = _check_types(orchestrator.get("artifact_types"), "orchestrator.artifact_types")

    paths: dict[str, str] = {}
    for type_name, folder in _section(orchestrator, "artifact_paths").items():
        key = f"orchestrator.artifact_paths.{type_name}"
        if type_name not in ARTIFACT_TYPES:
            raise ConfigInvalidError(
                f"orchestrator.artifact_paths names unknown artifact type {type_name!r}",
                key=key,
                hint=f"choose from {_CHOICES}",
            )
        if not isinstance(folder, str) or not folder.strip():
            raise ConfigInvalidError(
                f"{key} in config must be a folder path, not {folder!r}",
                key=key,
                hint=f"for example {type_name}: {type_name}  (relative to the project folder)",
            )
        paths[type_name] = folder.strip()

    slug = _string(project, "project", "slug")
    if slug is not None:
        try:
            validate_project_key(slug)
        except ContractError as exc:
            raise ConfigInvalidError(f"project.slug in config: {exc}", key="project.slug") from None

    archive = _string(aws, "aws", "s3_bucket_raw")
    if archive is not None:
        _check_bucket(archive, "aws.s3_bucket_raw")
    staging = _string(aws, "aws", "s3_bucket_staging")
    if staging is not None:
        _check_bucket(staging, "aws.s3_bucket_staging")
    elif archive is not None:
        staging = f"{archive}-staging"

    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or _string(aws, "aws", "region")
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        endpoint = _check_endpoint(endpoint, "AWS_ENDPOINT_URL")
    else:
        endpoint = _string(aws, "aws", "endpoint_url")
        if endpoint:
            endpoint = _check_endpoint(endpoint, "aws.endpoint_url")
    profile = env.get("AWS_PROFILE") or _string(aws, "aws", "profile")

    return Settings(
        config_path=config_path,
        upload_artifacts_to_s3=switch,
        artifact_types=types,
        artifact_paths=paths,
        project_slug=slug,
        archive_bucket=archive,
        staging_bucket=staging,
        region=region,
        endpoint_url=endpoint,
        profile=profile,
        transfer=_transfer(aws),
        cost=_cost(data),
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
