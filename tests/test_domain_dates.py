from datetime import UTC, datetime, timedelta, timezone

import pytest

from jobs.domain.dates import format_ago, format_duration, format_hms, utc_iso

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, ""),
        (0, "0 s"),
        (9, "9 s"),
        (65, "1 min 5 s"),
        (3600, "1 h"),
        (3900, "1 h 5 min"),
        (3605, "1 h"),
        (90061, "1 d 1 h"),
        (-5, "0 s"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [(None, ""), (9, "0:00:09"), (3903, "1:05:03"), (97200, "27:00:00")])
def test_format_hms(seconds, text):
    assert format_hms(seconds) == text


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=14), "14 s ago"),
        (timedelta(minutes=3, seconds=20), "3 min ago"),
        (timedelta(hours=2, minutes=59), "2 h ago"),
        (timedelta(seconds=2), "just now"),
        (timedelta(seconds=-30), "in 30 s"),
    ],
)
def test_format_ago(delta, text):
    assert format_ago(NOW - delta, NOW) == text


def test_format_ago_never():
    assert format_ago(None, NOW) == "never"


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (None, None),
        (NOW, "2026-11-20T12:00:00Z"),
        (datetime(2026, 11, 20, 12, 0, 0, 250000, tzinfo=UTC), "2026-11-20T12:00:00.250000Z"),
        # Another zone is converted, not relabelled.
        (datetime(2026, 11, 20, 7, 0, tzinfo=timezone(timedelta(hours=-5))), "2026-11-20T12:00:00Z"),
        # Naive values are the database's UTC.
        (datetime(2026, 11, 20, 12, 0), "2026-11-20T12:00:00Z"),
    ],
)
def test_utc_iso(moment, text):
    assert utc_iso(moment) == text
