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


def _billed(**kwargs):
    args = {
        "start": START,
        "end": START + timedelta(hours=1),
        "instance_count": 2,
        "reported_per_instance": None,
        "retained_per_instance": None,
        "finished": True,
        "now": NOW,
    }
    return billing.billed_seconds(**{**args, **kwargs})


def test_a_finished_job_is_billed_from_aws_figure_times_instances():
    # Managed spot with 68 % savings: an hour of training, 1152 s billed.
    billed = _billed(reported_per_instance=1152)
    assert billed == billing.BilledTime(2 * 1152, billing.AWS, 1152)
    assert billed.label == "AWS"


def test_warm_pool_retained_time_is_billed_on_top_of_aws_figure():
    billed = _billed(reported_per_instance=3600, retained_per_instance=600)
    assert billed.seconds == 2 * (3600 + 600) and billed.retained_seconds == 2 * 600
    assert billed.basis == billing.AWS


def test_without_aws_figure_a_finished_job_is_billed_start_to_end():
    billed = _billed()
    assert billed == billing.BilledTime(2 * 3600, billing.START_TO_END, 3600)
    # Warm-pool time AWS reported is billed whatever the basis.
    assert _billed(retained_per_instance=60).seconds == 2 * 3660


def test_a_running_job_is_billed_from_start_to_now_whatever_aws_said():
    billed = _billed(end=None, finished=False, reported_per_instance=10, retained_per_instance=600)
    assert billed == billing.BilledTime(2 * 5 * 3600, billing.RUNNING, 5 * 3600)


def test_a_gone_job_is_billed_to_when_it_was_last_seen_not_to_now():
    seen = START + timedelta(minutes=30)
    billed = _billed(end=None, finished=False, gone=True, last_seen=seen)
    assert billed == billing.BilledTime(2 * 1800, billing.LAST_SEEN, 1800)


def test_a_job_that_never_started_is_billed_nothing_unless_aws_says_otherwise():
    assert _billed(start=None, end=None) is None
    assert _billed(start=None, end=None, reported_per_instance=0) == billing.BilledTime(0, billing.AWS, 0)


def test_every_basis_has_a_label_and_an_explanation():
    assert set(billing.BASIS_LABELS) == {billing.AWS, billing.START_TO_END, billing.RUNNING, billing.LAST_SEEN}
    assert all(short and long for short, long in billing.BASIS_LABELS.values())
