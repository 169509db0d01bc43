"""Periods of a cost report: a date range split into days, weeks or months.

Dates are local calendar dates (the caller turns them into moments in its
time zone). A week begins on Monday; the first and last periods may be
parts of a week or month, cut by the range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

DAY, WEEK, MONTH = "day", "week", "month"
BY = (DAY, WEEK, MONTH)
# A chart of more bars than this is unreadable, and each is a column in the query.
MAX_PERIODS = 120


class BadRange(ValueError):
    """A range or period the report refuses; the page answers 400 with this message."""


def period_start(day: date, by: str) -> date:
    """The first day of the period holding ``day``."""
    if by == DAY:
        return day
    if by == WEEK:
        return day - timedelta(days=day.weekday())
    if by == MONTH:
        return day.replace(day=1)
    raise BadRange(f"Unknown period {by!r}; use one of {', '.join(BY)}.")


def _next_start(start: date, by: str) -> date:
    if by == DAY:
        return start + timedelta(days=1)
    if by == WEEK:
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


@dataclass(frozen=True)
class Period:
    label: date  # the period's first day (before the range's start for a cut first period)
    first: date  # the first day inside the range
    stop: date  # the day after the last day inside the range


def split(first: date, last: date, by: str) -> list[Period]:
    """The periods from ``first`` to ``last`` (both included), each cut to the range."""
    if last < first:
        raise BadRange("The range ends before it begins.")
    periods = []
    label = period_start(first, by)
    end = last + timedelta(days=1)
    while label < end:
        following = _next_start(label, by)
        periods.append(Period(label, max(label, first), min(following, end)))
        if len(periods) > MAX_PERIODS:
            raise BadRange(f"More than {MAX_PERIODS} periods: choose a shorter range or a longer period.")
        label = following
    return periods


def parse_day(raw: str, name: str) -> date:
    """A YYYY-MM-DD date; BadRange naming the parameter otherwise."""
    try:
        return date.fromisoformat(raw) if len(raw) == 10 else _bad(raw, name)
    except ValueError:
        return _bad(raw, name)


def _bad(raw: str, name: str) -> date:
    raise BadRange(f"The parameter {name!r} must be a date as YYYY-MM-DD, not {raw[:40]!r}.")


def spread(billed: int, span_start: float, span_stop: float, boundaries: list[float]) -> list[int]:
    """``billed`` seconds of a span spread over the periods between the boundaries, pro rata.

    As the database does it: each boundary's share from it on is truncated
    to whole seconds (billed x seconds after it / span), and a period is the
    difference of its two boundaries', so the periods add up exactly to the
    billed time inside the range. Times are seconds on one clock.
    """
    span = span_stop - span_start

    def since(moment: float) -> int:
        inside = max(0.0, span_stop - max(span_start, moment))
        if span <= 0:
            return billed if span_stop >= moment else 0
        return int(billed * int(inside) // int(span))

    cumulative = [since(b) for b in boundaries]
    return [a - b for a, b in pairwise(cumulative)]


def spot_savings(on_demand_seconds: int, billed_seconds: int, hourly_rate: Decimal | None) -> Decimal | None:
    """What on-demand would have cost minus what was billed, for seconds at one hourly rate."""
    if hourly_rate is None:
        return None
    return Decimal(max(on_demand_seconds - billed_seconds, 0)) / Decimal(3600) * hourly_rate


@dataclass(frozen=True)
class Bar:
    series: int  # index into the legend
    x: float
    y: float
    width: float
    height: float
    value: Decimal
    label: date


def stack(values: list[list[Decimal]], periods: list[Period], *, width: float, height: float) -> list[Bar]:
    """Stacked bars, one per period and series (``values[series][period]``), scaled to the tallest period.

    Zero values draw nothing. The y axis points down, as in SVG.
    """
    totals = [sum((series[i] for series in values), Decimal(0)) for i in range(len(periods))]
    top = max(totals, default=Decimal(0))
    if not periods or top <= 0:
        return []
    slot = width / len(periods)
    bars = []
    for i, period in enumerate(periods):
        y = height
        for s, series in enumerate(values):
            if series[i] <= 0:
                continue
            h = float(series[i] / top) * height
            y -= h
            bars.append(
                Bar(
                    s,
                    round(i * slot + slot * 0.1, 2),
                    round(y, 2),
                    round(slot * 0.8, 2),
                    round(h, 2),
                    series[i],
                    period.label,
                )
            )
    return bars
