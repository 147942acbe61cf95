"""The prices ``cost`` estimates with, and the lifecycle facts it needs.

Defaults: the user guide's two numbers (S3 Standard ~$0.023 per GB-month, download ~$0.09 per GB)
and, for everything the guide does not price, Amazon S3's published list prices for US East
(N. Virginia) as of 2025 (the S3 pricing page: storage, requests and data retrieval, lifecycle
transition requests). Other regions and later price changes differ, so every value can be
overridden in ``config.yaml`` under ``cost:``; a GB here is 1024^3 bytes, as AWS bills it.

The lifecycle facts mirror the infrastructure's rule (transition of managed artifacts after 90 days
to ``GLACIER``) and two documented S3 behaviours that change the bill of many small files:

* since September 2024 a lifecycle rule without a size filter does not transition objects smaller
  than 128 KiB (they stay in S3 Standard);
* each object in Glacier Flexible Retrieval or Deep Archive carries 40 KiB of index and metadata:
  32 KiB billed at the archive class's rate and 8 KiB at S3 Standard's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..transfer import KB

STANDARD = "STANDARD"
#: Classes whose objects must be restored before a GET can read them.
ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
#: Storage-class names S3 reports (``ListObjectsV2``, ``HeadObject``), and ``cost:`` accepts.
STORAGE_CLASSES = (
    "STANDARD",
    "INTELLIGENT_TIERING",
    "STANDARD_IA",
    "ONEZONE_IA",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
    "REDUCED_REDUNDANCY",
)
PRICES_SOURCE = (
    "user guide (S3 Standard $0.023/GB-month, download $0.09/GB); other prices: Amazon S3 list "
    "prices, US East (N. Virginia), 2025; override under cost: in config.yaml"
)


def _frozen(values: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class Prices:
    """Unit prices (``currency``) and the lifecycle assumptions of a cost estimate.

    :param storage_gb_month: per storage class, per GB stored for a month.
    :param download_gb: data transfer out to the internet, per GB.
    :param get_per_1000: GET and HEAD requests.
    :param put_per_1000: PUT, COPY, POST and LIST requests.
    :param transition_per_1000: lifecycle transition requests into a class, per object moved.
    :param retrieval_gb: reading a restored (or infrequent-access) object, per GB, Standard tier.
    :param restore_per_1000: restore requests, Standard tier.
    :param transition_days: days after which the lifecycle rule moves managed artifacts.
    :param transition_storage_class: where it moves them (``GLACIER`` = Glacier Flexible Retrieval).
    :param min_transition_bytes: objects smaller than this are not transitioned (S3's default).
    :param archive_overhead_bytes: per object in an archive class, billed at that class's rate...
    :param archive_standard_overhead_bytes: ...and this much more at S3 Standard's rate.
    """

    currency: str = "USD"
    storage_gb_month: Mapping[str, float] = field(default_factory=lambda: _frozen({
        "STANDARD": 0.023,
        "INTELLIGENT_TIERING": 0.023,
        "STANDARD_IA": 0.0125,
        "ONEZONE_IA": 0.01,
        "GLACIER_IR": 0.004,
        "GLACIER": 0.0036,
        "DEEP_ARCHIVE": 0.00099,
        "REDUCED_REDUNDANCY": 0.024,
    }))
    download_gb: float = 0.09
    get_per_1000: float = 0.0004
    put_per_1000: float = 0.005
    transition_per_1000: Mapping[str, float] = field(default_factory=lambda: _frozen({
        "STANDARD_IA": 0.01,
        "ONEZONE_IA": 0.01,
        "INTELLIGENT_TIERING": 0.01,
        "GLACIER_IR": 0.02,
        "GLACIER": 0.03,
        "DEEP_ARCHIVE": 0.05,
    }))
    retrieval_gb: Mapping[str, float] = field(default_factory=lambda: _frozen({
        "STANDARD_IA": 0.01,
        "ONEZONE_IA": 0.01,
        "GLACIER_IR": 0.03,
        "GLACIER": 0.01,
        "DEEP_ARCHIVE": 0.02,
    }))
    restore_per_1000: Mapping[str, float] = field(default_factory=lambda: _frozen({
        "GLACIER": 0.05,
        "DEEP_ARCHIVE": 0.10,
    }))
    transition_days: int = 90
    transition_storage_class: str = "GLACIER"
    min_transition_bytes: int = 128 * KB
    archive_overhead_bytes: int = 32 * KB
    archive_standard_overhead_bytes: int = 8 * KB
    source: str = PRICES_SOURCE

    def __post_init__(self) -> None:
        for name in TABLE_KEYS:
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def storage_price(self, storage_class: str) -> float:
        """Per GB-month; a class the table lacks is priced as Standard rather than as free."""
        table = self.storage_gb_month
        return table.get(storage_class, table.get(STANDARD, 0.0))


#: ``cost:`` keys holding one number, with the field they set.
SCALAR_KEYS = ("download_gb", "get_per_1000", "put_per_1000")
#: ``cost:`` keys holding a storage class -> number mapping, merged over the defaults.
TABLE_KEYS = ("storage_gb_month", "transition_per_1000", "retrieval_gb", "restore_per_1000")
