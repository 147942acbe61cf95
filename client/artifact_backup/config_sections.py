"""The sections of ``config.yaml`` this package reads, one key at a time: each function checks its
keys and raises :class:`ConfigInvalidError` naming the key and the fix (:mod:`.config` puts them
together)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from artifact_contract import ARTIFACT_TYPES, DEFAULT_ARTIFACT_TYPES, ContractError, validate_project_key

from .archive.prices import SCALAR_KEYS, STORAGE_CLASSES, TABLE_KEYS, Prices
from .exceptions import ConfigInvalidError
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


def section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
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


def string(keys: Mapping[str, Any], name: str, key: str) -> str | None:
    value = keys.get(key)
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


def check_bucket(name: str, key: str) -> str:
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


def check_endpoint(url: str, key: str) -> str:
    if not re.match(r"https?://[^/\s]+", url):
        raise ConfigInvalidError(
            f"{key} must be an http:// or https:// URL, not {url!r}",
            key=key,
            hint="for example http://127.0.0.1:5000 for a local S3 server",
        )
    return url.rstrip("/")


def artifact_types(orchestrator: Mapping[str, Any]) -> tuple[str, ...]:
    key = "orchestrator.artifact_types"
    value = orchestrator.get("artifact_types")
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


def transfer(aws: Mapping[str, Any]) -> UploadConfig:
    raw = section(aws, "transfer") if "transfer" in aws else {}
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


def cost(data: Mapping[str, Any]) -> Prices:
    """``cost:``: prices and lifecycle assumptions for cost estimates, each over the defaults."""
    raw = section(data, "cost")
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
            changes[key] = string(raw, "cost", key) or defaults.currency
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


def upload_switch(orchestrator: Mapping[str, Any]) -> bool:
    switch = orchestrator.get("upload_artifacts_to_s3", False)
    if switch is None:
        return False
    if not isinstance(switch, bool):
        raise ConfigInvalidError(
            f"orchestrator.upload_artifacts_to_s3 in config must be true or false, not {switch!r}",
            key="orchestrator.upload_artifacts_to_s3",
            hint="write upload_artifacts_to_s3: true (no quotes)",
        )
    return switch


def artifact_paths(orchestrator: Mapping[str, Any]) -> dict[str, str]:
    paths: dict[str, str] = {}
    for type_name, folder in section(orchestrator, "artifact_paths").items():
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
    return paths


def project_slug(project: Mapping[str, Any]) -> str | None:
    slug = string(project, "project", "slug")
    if slug is not None:
        try:
            validate_project_key(slug)
        except ContractError as exc:
            raise ConfigInvalidError(f"project.slug in config: {exc}", key="project.slug") from None
    return slug


def buckets(aws: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The archive and staging buckets; staging defaults to ``{archive}-staging``."""
    archive = string(aws, "aws", "s3_bucket_raw")
    if archive is not None:
        check_bucket(archive, "aws.s3_bucket_raw")
    staging = string(aws, "aws", "s3_bucket_staging")
    if staging is not None:
        check_bucket(staging, "aws.s3_bucket_staging")
    elif archive is not None:
        staging = f"{archive}-staging"
    return archive, staging


def endpoint(aws: Mapping[str, Any], env: Mapping[str, str]) -> str | None:
    """The environment's endpoint wins over the file's, as in the AWS tools."""
    from_env = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if from_env:
        return check_endpoint(from_env, "AWS_ENDPOINT_URL")
    from_file = string(aws, "aws", "endpoint_url")
    return check_endpoint(from_file, "aws.endpoint_url") if from_file else None
