"""What a project's archive costs: per storage class and per type, now and once the lifecycle rule has
moved everything it will move, plus the one-off request charges (the transition itself, downloading
or restoring everything).

:func:`estimate` is pure arithmetic over (type, size, storage class) so it can be checked by hand;
:func:`collect` gathers those triples from the run records and the runs' own prefixes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from artifact_contract import runs_prefix

from ..transfer import GB
from ._s3 import list_objects
from .prices import ARCHIVE_CLASSES, STANDARD, Prices
from .runs import list_runs, project_key_argument
from .summary import MISSING

#: The type name under which the archive's own records (run records, claims, pin notes) are counted.
RECORDS_TYPE = "_runs"


@dataclass(frozen=True)
class CostObject:
    """One stored object: ``managed`` objects (artifacts) are the ones the lifecycle rule moves."""

    type: str
    size: int
    storage_class: str = STANDARD
    managed: bool = True


@dataclass
class Line:
    objects: int = 0
    bytes: int = 0
    monthly: float = 0.0

    def add(self, size: int, monthly: float) -> None:
        self.objects += 1
        self.bytes += size
        self.monthly += monthly

    def to_dict(self) -> dict[str, Any]:
        return {"objects": self.objects, "bytes": self.bytes, "gb": self.bytes / GB,
                "monthly": self.monthly}


@dataclass
class Snapshot:
    """Storage at one moment: per class, per type, and in total."""

    by_class: dict[str, Line] = field(default_factory=dict)
    by_type: dict[str, Line] = field(default_factory=dict)
    total: Line = field(default_factory=Line)

    def add(self, obj: CostObject, storage_class: str, monthly: float) -> None:
        self.by_class.setdefault(storage_class, Line()).add(obj.size, monthly)
        self.by_type.setdefault(obj.type, Line()).add(obj.size, monthly)
        self.total.add(obj.size, monthly)

    def to_dict(self) -> dict[str, Any]:
        return {"by_class": {k: v.to_dict() for k, v in sorted(self.by_class.items())},
                "by_type": {k: v.to_dict() for k, v in sorted(self.by_type.items())},
                "total": self.total.to_dict()}


@dataclass
class Charge:
    """A one-off charge: ``requests`` billed per 1,000 plus ``bytes`` billed per GB."""

    requests: int = 0
    bytes: int = 0
    cost: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "bytes": self.bytes, "cost": self.cost}


@dataclass
class CostReport:
    project_key: str
    runs: int
    prices: Prices
    now: Snapshot
    after: Snapshot
    transition: Charge
    download_all: Charge
    restore_all: Charge
    missing_files: int = 0

    def to_dict(self) -> dict[str, Any]:
        p = self.prices
        return {
            "project_key": self.project_key,
            "runs": self.runs,
            "currency": p.currency,
            "prices": {
                "storage_gb_month": dict(p.storage_gb_month), "download_gb": p.download_gb,
                "get_per_1000": p.get_per_1000, "put_per_1000": p.put_per_1000,
                "transition_per_1000": dict(p.transition_per_1000), "retrieval_gb": dict(p.retrieval_gb),
                "restore_per_1000": dict(p.restore_per_1000), "source": p.source,
            },
            "transition_days": p.transition_days,
            "transition_storage_class": p.transition_storage_class,
            "min_transition_bytes": p.min_transition_bytes,
            "now": self.now.to_dict(),
            "after_transition": self.after.to_dict(),
            "requests": {
                "transition": self.transition.to_dict(),
                "download_all": self.download_all.to_dict(),
                "restore_all_after_transition": self.restore_all.to_dict(),
            },
            "missing_files": self.missing_files,
        }


def monthly_cost(size: int, storage_class: str, prices: Prices) -> float:
    """A month of one object in a class, with the per-object index an archive class adds."""
    cost = size / GB * prices.storage_price(storage_class)
    if storage_class in ARCHIVE_CLASSES:
        cost += prices.archive_overhead_bytes / GB * prices.storage_price(storage_class)
        cost += prices.archive_standard_overhead_bytes / GB * prices.storage_price(STANDARD)
    return cost


def transitions(obj: CostObject, prices: Prices) -> bool:
    """Whether the lifecycle rule will move this object: a managed artifact still in Standard, not
    below S3's minimum transition size."""
    return obj.managed and obj.storage_class == STANDARD and obj.size >= prices.min_transition_bytes


def estimate(project_key: str, objects: Iterable[CostObject], prices: Prices, *, runs: int = 0,
             missing_files: int = 0) -> CostReport:
    now, after = Snapshot(), Snapshot()
    transition, download_all, restore_all = Charge(), Charge(), Charge()
    target = prices.transition_storage_class
    for obj in objects:
        now.add(obj, obj.storage_class, monthly_cost(obj.size, obj.storage_class, prices))
        later = target if transitions(obj, prices) else obj.storage_class
        after.add(obj, later, monthly_cost(obj.size, later, prices))
        if later != obj.storage_class:
            transition.requests += 1
            transition.bytes += obj.size
            transition.cost += prices.transition_per_1000.get(target, 0.0) / 1000
        if obj.managed:
            download_all.requests += 1
            download_all.bytes += obj.size
            download_all.cost += prices.get_per_1000 / 1000 + obj.size / GB * prices.download_gb
            if later in ARCHIVE_CLASSES:
                restore_all.requests += 1
                restore_all.bytes += obj.size
                restore_all.cost += (prices.restore_per_1000.get(later, 0.0) / 1000
                                     + obj.size / GB * prices.retrieval_gb.get(later, 0.0))
    return CostReport(project_key, runs, prices, now, after, transition, download_all, restore_all,
                      missing_files)


def collect(client: Any, bucket: str, project_key: str, *, workers: int = 10
            ) -> tuple[list[CostObject], int, int]:
    """(objects, runs, missing files) of a project: each run's files where they are stored now, and
    the archive's own records under ``_runs/``."""
    project_key = project_key_argument(project_key)
    listing = list_runs(client, bucket, project_key, storage=True, workers=workers)
    objects: list[CostObject] = []
    missing = 0
    seen: set[str] = set()
    for summary in listing.runs:
        for file in summary.record.files:
            storage_class = summary.storage_class_of(file) or STANDARD
            if storage_class == MISSING:
                missing += 1
                continue
            if file.key in seen:  # untimestamped uploads can share keys: the object is stored once
                continue
            seen.add(file.key)
            objects.append(CostObject(file.type, file.size, storage_class))
    for obj in list_objects(client, bucket, runs_prefix(project_key)):
        objects.append(CostObject(RECORDS_TYPE, obj.size, obj.storage_class, managed=False))
    return objects, len(listing.runs), missing
