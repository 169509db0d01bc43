"""jobs.domain.polling: running jobs described less often while a source's events arrive."""

from datetime import UTC, datetime, timedelta

import pytest

from jobs.domain.polling import POLLING, PUSH, describe_interval, push_active, sync_mode

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def interval(last_event_at, *, window=900, factor=10, base=60):
    return describe_interval(base, last_event_at, NOW, window_seconds=window, factor=factor)


def test_never_an_event_is_polling_at_the_base_interval():
    assert interval(None) == 60
    assert sync_mode(None, NOW, window_seconds=900) == POLLING


@pytest.mark.parametrize("age", [0, 1, 899, 900])
def test_an_event_within_the_window_stretches_the_interval(age):
    last = NOW - timedelta(seconds=age)
    assert interval(last) == 600
    assert interval(last, factor=3, base=30) == 90
    assert sync_mode(last, NOW, window_seconds=900) == PUSH


@pytest.mark.parametrize("age", [901, 3600, 86400 * 30])
def test_events_that_stopped_return_the_source_to_polling_by_themselves(age):
    last = NOW - timedelta(seconds=age)
    assert interval(last) == 60
    assert not push_active(last, NOW, window_seconds=900)
    assert sync_mode(last, NOW, window_seconds=900) == POLLING


def test_a_factor_of_one_turns_the_stretch_off():
    assert interval(NOW, factor=1) == 60


def test_an_event_stamped_after_now_counts_as_recent():
    # Another host's clock a little ahead: still push, not a negative age taken as stale.
    assert interval(NOW + timedelta(seconds=5)) == 600
