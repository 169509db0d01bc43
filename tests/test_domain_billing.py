from datetime import UTC, datetime, timedelta
from decimal import Decimal

from jobs.domain import billing

START = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
NOW = START + timedelta(hours=5)


def test_billable_is_start_to_end_times_instances():
    assert billing.billable_seconds(START, START + timedelta(hours=1), 4, now=NOW) == 4 * 3600


def test_running_job_bills_up_to_now():
    assert billing.billable_seconds(START, None, 2, now=NOW) == 2 * 5 * 3600


def test_job_that_never_started_training_bills_nothing():
    assert billing.billable_seconds(None, None, 8, now=NOW) is None


def test_clock_skew_never_bills_negative_time():
    assert billing.billable_seconds(START, START - timedelta(seconds=5), 1, now=NOW) == 0


def test_instance_count_prefers_selected_then_groups_then_count():
    assert billing.instance_count_of(4, [], 3) == 3
    assert billing.instance_count_of(None, [2, 3], None) == 5
    assert billing.instance_count_of(6, [], None) == 6
    assert billing.instance_count_of(None, [], None) == 0


def test_reported_billable_total_multiplies_per_instance_figure():
    assert billing.reported_billable_total(1000, 3) == 3000
    assert billing.reported_billable_total(None, 3) is None


def test_spot_savings_from_billable_and_training_time():
    assert billing.spot_savings_percent(300, 1000) == 70.0
    assert billing.spot_savings_percent(0, 1000) == 100.0
    assert billing.spot_savings_percent(None, 1000) is None
    assert billing.spot_savings_percent(300, 0) is None


def test_warm_pool_retained_time_is_per_instance():
    assert billing.warm_pool_retained_total(600, 2) == 1200


def test_estimated_cost_rounds_to_cents():
    assert billing.estimated_cost(5400, Decimal("3.825")) == Decimal("5.74")
    assert billing.estimated_cost(None, Decimal("1")) is None
    assert billing.estimated_cost(100, None) is None
