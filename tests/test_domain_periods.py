"""jobs.domain.periods: splitting a range, spreading billed time, savings, stacked bars."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from jobs.domain.periods import MAX_PERIODS, BadRange, parse_day, period_start, split, spot_savings, spread, stack


def test_days_weeks_and_months_are_cut_to_the_range():
    days = split(date(2026, 11, 29), date(2026, 12, 2), "day")
    assert [p.label for p in days] == [date(2026, 11, 29), date(2026, 11, 30), date(2026, 12, 1), date(2026, 12, 2)]
    weeks = split(date(2026, 11, 20), date(2026, 12, 2), "week")  # a Friday to a Wednesday
    assert [(p.label, p.first, p.stop) for p in weeks] == [
        (date(2026, 11, 16), date(2026, 11, 20), date(2026, 11, 23)),
        (date(2026, 11, 23), date(2026, 11, 23), date(2026, 11, 30)),
        (date(2026, 11, 30), date(2026, 11, 30), date(2026, 12, 3)),
    ]
    months = split(date(2026, 1, 31), date(2026, 3, 1), "month")
    assert [(p.first, p.stop) for p in months] == [
        (date(2026, 1, 31), date(2026, 2, 1)),
        (date(2026, 2, 1), date(2026, 3, 1)),
        (date(2026, 3, 1), date(2026, 3, 2)),
    ]
    assert split(date(2026, 12, 1), date(2027, 1, 5), "month")[-1].label == date(2027, 1, 1)


def test_period_start():
    assert period_start(date(2026, 11, 22), "week") == date(2026, 11, 16)  # a Sunday: its Monday
    assert period_start(date(2026, 11, 22), "month") == date(2026, 11, 1)
    with pytest.raises(BadRange):
        period_start(date(2026, 11, 22), "year")


def test_refuses_reversed_and_overlong_ranges_and_bad_dates():
    with pytest.raises(BadRange):
        split(date(2026, 11, 2), date(2026, 11, 1), "day")
    with pytest.raises(BadRange, match="periods"):
        split(date(2026, 1, 1), date(2026, 12, 31), "day")
    assert len(split(date(2026, 1, 1), date(2035, 12, 31), "month")) == MAX_PERIODS
    for raw in ("2026-02-30", "2026-1-01", "x" * 10, "2026-11-20T00:00"):
        with pytest.raises(BadRange, match="'from'"):
            parse_day(raw, "from")
    assert parse_day("2026-11-20", "from") == date(2026, 11, 20)


def test_spread_splits_billed_time_pro_rata_and_adds_up_exactly():
    # 1000 s billed over a 3,600 s span cut at 1/3 and 2/3 of it.
    assert spread(1000, 0, 3600, [0, 1200, 2400, 3600]) == [334, 333, 333]
    # Cut where the job did not run: nothing there.
    assert spread(1000, 100, 200, [0, 50, 100, 300]) == [0, 0, 1000]
    # Seven boundaries over odd figures: the parts always add up to the whole.
    parts = spread(1777, 13, 9999, [0, 1001, 2002, 5005, 7007, 9998, 10000])
    assert sum(parts) == 1777
    # A zero-length span bills its figure where it ended.
    assert spread(60, 500, 500, [0, 400, 600]) == [0, 60]


def test_spot_savings():
    assert spot_savings(3600, 1152, Decimal("3.00")) == Decimal("2.04")
    assert spot_savings(100, 200, Decimal("3.00")) == 0  # never negative
    assert spot_savings(100, 50, None) is None


def test_stack_scales_to_the_tallest_period_and_skips_zeros():
    periods = split(date(2026, 11, 1), date(2026, 11, 2), "day")
    bars = stack([[Decimal(1), Decimal(0)], [Decimal(3), Decimal(2)]], periods, width=100, height=100)
    assert [(b.series, b.y, b.height) for b in bars] == [(0, 75.0, 25.0), (1, 0.0, 75.0), (1, 50.0, 50.0)]
    assert bars[0].x == 5.0 and bars[0].width == 40.0
    assert stack([[Decimal(0), Decimal(0)]], periods, width=100, height=100) == []
