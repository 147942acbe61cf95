"""Cost arithmetic by hand, and the ``cost:`` section of config.yaml."""

from __future__ import annotations

import pytest

from artifact_backup.archive.cost import CostObject, estimate, monthly_cost, transitions
from artifact_backup.archive.prices import Prices
from artifact_backup.config import settings_from_mapping
from artifact_backup.exceptions import ConfigInvalidError

GB = 1024**3
KB = 1024


def prices(**changes) -> Prices:
    base = dict(
        storage_gb_month={"STANDARD": 1.0, "GLACIER": 0.25, "DEEP_ARCHIVE": 0.1},
        download_gb=2.0, get_per_1000=1.0, transition_per_1000={"GLACIER": 10.0},
        retrieval_gb={"GLACIER": 0.5}, restore_per_1000={"GLACIER": 20.0},
    )
    base.update(changes)
    return Prices(**base)


def test_defaults_are_the_guides_prices():
    p = Prices()
    assert p.storage_gb_month["STANDARD"] == 0.023
    assert p.download_gb == 0.09
    assert p.transition_days == 90
    assert p.transition_storage_class == "GLACIER"
    assert p.min_transition_bytes == 128 * KB
    assert "user guide" in p.source
    assert "2025" in p.source
    # a storage class the table lacks is never priced as free
    assert Prices(storage_gb_month={"STANDARD": 0.5}).storage_price("GLACIER_IR") == 0.5


def test_monthly_cost_adds_the_archive_index_per_object():
    p = prices()
    assert monthly_cost(GB, "STANDARD", p) == pytest.approx(1.0)
    assert monthly_cost(GB, "GLACIER", p) == pytest.approx(0.25 + 32 * KB / GB * 0.25 + 8 * KB / GB * 1.0)
    assert monthly_cost(0, "DEEP_ARCHIVE", p) == pytest.approx(32 * KB / GB * 0.1 + 8 * KB / GB * 1.0)


def test_only_managed_standard_objects_above_the_minimum_transition():
    p = prices()
    assert transitions(CostObject("logs", 128 * KB), p)
    assert not transitions(CostObject("logs", 128 * KB - 1), p)
    assert not transitions(CostObject("logs", GB, "GLACIER"), p)
    assert not transitions(CostObject("_runs", GB, managed=False), p)


def test_estimate_now_after_and_requests_from_known_sizes():
    p = prices()
    objects = [
        CostObject("gis_data", 2 * GB),            # moves to GLACIER
        CostObject("logs", 512 * KB),              # moves
        CostObject("logs", 10 * KB),               # too small: stays STANDARD
        CostObject("report", GB, "GLACIER"),       # already archived
        CostObject("_runs", 4 * KB, managed=False),  # the archive's own record: never moves
    ]
    report = estimate("RMI25320", objects, p, runs=3)
    overhead = 32 * KB / GB * 0.25 + 8 * KB / GB * 1.0

    now = report.now
    assert now.by_class["STANDARD"].objects == 4
    assert now.by_class["STANDARD"].monthly == pytest.approx((2 * GB + 526 * KB) / GB)
    assert now.by_class["GLACIER"].monthly == pytest.approx(0.25 + overhead)
    assert now.by_type["logs"].bytes == 522 * KB
    assert now.total.monthly == pytest.approx((2 * GB + 526 * KB) / GB + 0.25 + overhead)

    after = report.after
    assert after.by_class["GLACIER"].objects == 3
    assert after.by_class["STANDARD"].objects == 2
    assert after.by_class["STANDARD"].bytes == 14 * KB
    expected = 14 * KB / GB + (3 * GB + 512 * KB) / GB * 0.25 + 3 * overhead
    assert after.total.monthly == pytest.approx(expected)
    assert after.total.bytes == now.total.bytes

    assert (report.transition.requests, report.transition.bytes) == (2, 2 * GB + 512 * KB)
    assert report.transition.cost == pytest.approx(2 * 10.0 / 1000)
    assert report.download_all.requests == 4
    assert report.download_all.cost == pytest.approx(4 / 1000 + (3 * GB + 522 * KB) / GB * 2.0)
    assert report.restore_all.requests == 3
    assert report.restore_all.cost == pytest.approx(3 * 20.0 / 1000 + (3 * GB + 512 * KB) / GB * 0.5)
    data = report.to_dict()
    assert data["runs"] == 3
    assert data["currency"] == "USD"
    assert data["after_transition"]["by_class"]["GLACIER"]["objects"] == 3


def test_empty_project_costs_nothing():
    report = estimate("P", [], Prices())
    assert report.now.total.monthly == 0
    assert report.after.total.objects == 0
    assert report.download_all.cost == 0


def test_config_cost_section_overrides_and_merges():
    settings = settings_from_mapping(
        {"cost": {"storage_gb_month": {"GLACIER": 0.005}, "download_gb": 0.05, "min_transition_kb": 0,
                  "transition_storage_class": "DEEP_ARCHIVE", "transition_days": 30, "currency": "EUR"}},
        environ={},
    )
    p = settings.cost
    assert p.storage_gb_month["GLACIER"] == 0.005
    assert p.storage_gb_month["STANDARD"] == 0.023  # merged over the defaults
    assert (p.download_gb, p.min_transition_bytes, p.transition_days) == (0.05, 0, 30)
    assert (p.transition_storage_class, p.currency) == ("DEEP_ARCHIVE", "EUR")
    assert p.source.startswith("cost: in config.yaml")
    assert settings_from_mapping({}, environ={}).cost == Prices()


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"storage_gb_month": {"GLACIERS": 1}}, "cost.storage_gb_month"),
        ({"storage_gb_month": 0.1}, "cost.storage_gb_month"),
        ({"download_gb": -1}, "cost.download_gb"),
        ({"download_gb": "cheap"}, "cost.download_gb"),
        ({"transition_storage_class": "STANDARD"}, "cost.transition_storage_class"),
        ({"transition_days": 1.5}, "cost.transition_days"),
        ({"egress": 1}, "cost.egress"),
    ],
)
def test_config_cost_errors_name_the_key(section, key):
    with pytest.raises(ConfigInvalidError) as info:
        settings_from_mapping({"cost": section}, environ={})
    assert info.value.key.startswith(key)
