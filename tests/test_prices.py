"""The seeded InstancePrice table and what it prices."""

from __future__ import annotations

import importlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from jobs import ingest
from jobs.costs import job_cost, job_price
from jobs.domain import billing
from jobs.domain.billing import estimated_cost
from jobs.domain.parse import parse_training_job
from jobs.models import InstancePrice, TrainingJob
from tests.factories import T0, describe_response, make_job, make_source

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


# --- Cost of a job: AWS's billed figure when it gives one --------------------


def _spot_job(**overrides):
    # An hour of training on 2 x ml.p3.2xlarge; with 68 % spot savings AWS bills 1152 s each.
    return make_job(
        "spot-job",
        EnableManagedSpotTraining=True,
        TrainingTimeInSeconds=3600,
        BillableTimeInSeconds=1152,
        **overrides,
    )


@pytest.mark.django_db
def test_spot_job_is_priced_from_aws_billable_time_not_start_to_end() -> None:

    job = _spot_job()
    prices = {"ml.p3.2xlarge": Decimal("3.825")}
    cost = job_price(job, prices, now=timezone.now())
    assert cost.basis == billing.AWS
    assert cost.billed.seconds == 2 * 1152
    # 2 x 1152 s at $3.825/h, against 2 x 3600 s start to end ($7.65): ~3x less.
    assert cost.usd == Decimal("2.45") == job_cost(job, prices, now=timezone.now())
    assert job.spot_savings_percent == 68.0


@pytest.mark.django_db
def test_warm_pool_retained_time_is_priced_too() -> None:

    job = _spot_job(WarmPoolStatus={"Status": "Terminated", "ResourceRetainedBillableTimeInSeconds": 1800})
    cost = job_price(job, {"ml.p3.2xlarge": Decimal("3.6")}, now=timezone.now())
    # (1152 + 1800) s x 2 instances at $3.60/h.
    assert cost.billed.retained_seconds == 3600
    assert cost.usd == Decimal("5.90")


@pytest.mark.django_db
def test_running_job_is_priced_from_start_to_now() -> None:

    job = make_job("busy", status="InProgress", EnableManagedSpotTraining=True)
    now = job.training_start_time + timedelta(minutes=90)
    cost = job_price(job, {"ml.p3.2xlarge": Decimal("4")}, now=now)
    assert cost.basis == billing.RUNNING
    assert cost.billed.seconds == 2 * 5400 and cost.usd == Decimal("12.00")
    assert job.training_start_time > T0


@pytest.mark.django_db
def test_on_demand_job_without_aws_figure_is_priced_start_to_end() -> None:

    raw = describe_response("no-figure")
    del raw["BillableTimeInSeconds"]
    ingest.store_description(make_source(), parse_training_job(raw), raw, now=timezone.now())
    job = TrainingJob.objects.get(name="no-figure")
    assert job.reported_billable_seconds is None
    cost = job_price(job, {"ml.p3.2xlarge": Decimal("4")}, now=timezone.now())
    assert cost.basis == billing.START_TO_END
    assert cost.billed.seconds == 2 * 3600 and cost.usd == Decimal("8.00")


@pytest.mark.django_db
def test_unpriced_instance_type_keeps_the_basis_but_no_figure() -> None:

    cost = job_price(_spot_job(), {}, now=timezone.now())
    assert cost.usd is None and cost.basis == "aws"
