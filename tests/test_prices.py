"""The seeded InstancePrice table and what it prices."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps

from jobs.domain.billing import estimated_cost
from jobs.models import InstancePrice

seed_migration = importlib.import_module("jobs.migrations.0003_seed_instance_prices")

EXPECTED = {
    "ml.m5.large",
    "ml.m5.xlarge",
    "ml.m5.2xlarge",
    "ml.m5.4xlarge",
    "ml.c5.xlarge",
    "ml.c5.2xlarge",
    "ml.g4dn.xlarge",
    "ml.g4dn.2xlarge",
    "ml.g4dn.12xlarge",
    "ml.g5.xlarge",
    "ml.g5.2xlarge",
    "ml.g5.12xlarge",
    "ml.g5.48xlarge",
    "ml.p3.2xlarge",
    "ml.p3.8xlarge",
    "ml.p3.16xlarge",
    "ml.p4d.24xlarge",
    "ml.p5.48xlarge",
    "ml.trn1.32xlarge",
}


def _price(instance_type: str) -> Decimal:
    return InstancePrice.objects.get(instance_type=instance_type).hourly_usd


@pytest.mark.django_db
def test_migration_seeds_common_instances() -> None:
    rows = InstancePrice.objects.all()
    assert {r.instance_type for r in rows} >= EXPECTED
    for row in rows:
        assert row.hourly_usd > 0
        assert "us-east-1" in row.note and "check before relying on it" in row.note


@pytest.mark.django_db
def test_seeded_prices_are_plausible() -> None:
    # Bigger sizes of one family cost more, roughly in proportion.
    for family in (
        ["ml.m5.large", "ml.m5.xlarge", "ml.m5.2xlarge", "ml.m5.4xlarge"],
        ["ml.g5.xlarge", "ml.g5.2xlarge", "ml.g5.12xlarge", "ml.g5.48xlarge"],
        ["ml.p3.2xlarge", "ml.p3.8xlarge", "ml.p3.16xlarge"],
    ):
        prices = [_price(t) for t in family]
        assert prices == sorted(prices)
    assert 6 * _price("ml.p3.2xlarge") < _price("ml.p3.16xlarge") <= 8 * _price("ml.p3.2xlarge")
    assert _price("ml.p5.48xlarge") > _price("ml.p4d.24xlarge") > _price("ml.trn1.32xlarge")
    assert Decimal("0.05") < _price("ml.m5.large") < Decimal("0.5")


@pytest.mark.django_db
def test_reseeding_keeps_edited_prices() -> None:
    InstancePrice.objects.filter(instance_type="ml.g5.xlarge").update(hourly_usd=Decimal("1.0000"), note="ours")
    InstancePrice.objects.filter(instance_type="ml.m5.large").delete()
    seed_migration.seed(apps, None)
    assert _price("ml.g5.xlarge") == Decimal("1.0000")
    assert _price("ml.m5.large") == Decimal("0.1150")


@pytest.mark.django_db
def test_unseeding_removes_only_untouched_rows() -> None:
    InstancePrice.objects.filter(instance_type="ml.g5.xlarge").update(hourly_usd=Decimal("1.0000"))
    InstancePrice.objects.create(instance_type="ml.custom.large", hourly_usd=Decimal("2"))
    seed_migration.unseed(apps, None)
    assert set(InstancePrice.objects.values_list("instance_type", flat=True)) == {"ml.g5.xlarge", "ml.custom.large"}


@pytest.mark.django_db
def test_cost_at_a_seeded_price() -> None:
    # Ten instance-hours of ml.g5.xlarge.
    assert estimated_cost(36_000, _price("ml.g5.xlarge")) == Decimal("14.08")
