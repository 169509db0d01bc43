from datetime import UTC, datetime, timedelta

from jobs.domain.parse import Transition
from jobs.domain.timeline_chart import MIN_WIDTH, layout, time_span

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _t(status, a, b=None, message=""):
    return Transition(status, T0 + timedelta(minutes=a), T0 + timedelta(minutes=b) if b is not None else None, message)


def test_bars_are_placed_in_percent_of_the_span():
    chart = layout(
        [_t("Starting", 0, 25), _t("Training", 25, 100), _t("Completed", 100, 100)],
        creation_time=T0,
        training_start_time=T0 + timedelta(minutes=25),
        training_end_time=T0 + timedelta(minutes=100),
        max_runtime_seconds=50 * 60,
        running=False,
        now=T0 + timedelta(days=1),
    )
    starting, training, completed = chart.bars
    assert (starting.left, starting.width, starting.seconds) == (0.0, 25.0, 1500)
    assert (training.left, training.width) == (25.0, 75.0)
    # A zero-length marker step still shows, inside the picture.
    assert completed.width == MIN_WIDTH and completed.left + completed.width <= 100
    assert (chart.billed_left, chart.billed_width) == (25.0, 75.0)
    assert [m.label for m in chart.markers] == ["TrainingStartTime", "TrainingEndTime"]
    assert chart.limit is not None and chart.limit.left == 75.0
    assert chart.limit_after is None


def test_running_job_extends_to_now_and_limit_after_the_span():
    now = T0 + timedelta(minutes=40)
    chart = layout(
        [_t("Starting", 0, 10), _t("Training", 10)],
        creation_time=T0,
        training_start_time=T0 + timedelta(minutes=10),
        training_end_time=None,
        max_runtime_seconds=86400,
        running=True,
        now=now,
    )
    assert chart.end == now
    assert chart.bars[1].is_open and chart.bars[1].seconds == 1800 and chart.bars[1].width == 75.0
    assert chart.limit is None and chart.limit_after == T0 + timedelta(minutes=10, days=1)


def test_restarts_counted_and_flagged():
    chart = layout(
        [_t("Training", 0, 10), _t("Interrupted", 10, 11), _t("Restarting", 11, 12), _t("Training", 12, 20)],
        creation_time=T0,
        training_start_time=None,
        training_end_time=None,
        max_runtime_seconds=None,
        running=False,
        now=T0,
    )
    assert chart.restarts == 2
    assert [b.is_restart for b in chart.bars] == [False, True, True, False]
    assert chart.billed_left is None


def test_no_history():
    chart = layout(
        [],
        creation_time=T0,
        training_start_time=None,
        training_end_time=None,
        max_runtime_seconds=None,
        running=False,
        now=T0,
    )
    assert chart.bars == [] and chart.end > chart.start


def test_jobs_compared_share_one_axis():
    first = [_t("Starting", 0, 10), _t("Training", 10, 50)]
    second = [_t("Starting", 50, 60), _t("Training", 60, 100)]
    now = T0 + timedelta(days=1)
    span = time_span(
        [
            (T0, first, T0 + timedelta(minutes=10), T0 + timedelta(minutes=50), False),
            (T0 + timedelta(minutes=50), second, T0 + timedelta(minutes=60), T0 + timedelta(minutes=100), False),
        ],
        now,
    )
    assert span == (T0, T0 + timedelta(minutes=100))
    chart = layout(
        second,
        creation_time=T0 + timedelta(minutes=50),
        training_start_time=T0 + timedelta(minutes=60),
        training_end_time=T0 + timedelta(minutes=100),
        max_runtime_seconds=None,
        running=False,
        now=now,
        span=span,
    )
    assert (chart.start, chart.end) == span
    assert [(b.left, b.width) for b in chart.bars] == [(50.0, 10.0), (60.0, 40.0)]
    assert (chart.billed_left, chart.billed_width) == (60.0, 40.0)


def test_a_running_job_stretches_the_shared_axis_to_now():
    now = T0 + timedelta(minutes=30)
    span = time_span([(T0, [_t("Training", 0)], T0, None, True), (T0, [_t("Completed", 5, 5)], T0, T0, False)], now)
    assert span == (T0, now)
