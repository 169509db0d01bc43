"""Billed instance-seconds added up in SQL, inside windows, per instance configuration.

Shared by the status page (today, this week) and /costs/ (per day, week or
month, per group). Billed as every cost is (``billing.billed_seconds``):
AWS's BillableTimeInSeconds once a job finished (spread over its start-to-end
span, so a window holds its share), start to end without it, start to now
while running, to the last describe for a job gone at the source. The
seconds are added up per instance configuration in SQL and priced per rate
by the caller: turning thousands of datetime strings into Python datetimes,
and Decimal arithmetic per job, is what would cost.

A window here is "since a moment": the seconds billed from ``since`` on. The
seconds between two moments are the difference of two windows, so periods
add up exactly to the range they split.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import BigIntegerField, Case, Count, DateTimeField, F, Func, Q, Sum, TextField, Value, When
from django.db.models.functions import Cast, Coalesce, Greatest, Least

from jobs.domain import statuses
from jobs.models import GONE, TrainingJobQuerySet

# What a column adds up, per window (each a "since" moment):
BILLED = "s"  # billed seconds per instance (billing.billed_seconds' rules)
AWS_PART = "a"  # the part of BILLED from AWS's own figure
RUNNING_PART = "r"  # the part of BILLED of jobs running so far
GONE_PART = "g"  # the part of BILLED of jobs gone at the source, to their last describe
RETAINED = "t"  # the warm-pool retained seconds inside BILLED (counted when the job ended)
SPAN = "o"  # training start to end (or now): what on-demand would have billed, warm pool aside


def at(moment: datetime) -> Value:
    return Value(moment, output_field=DateTimeField())


class SecondsBetween(Func):
    """Whole seconds from the first datetime to the second, truncated like ``int(td.total_seconds())``.

    Negative when the second is earlier. SQLite keeps milliseconds in its
    julian days: rounded to them before truncating, so 3600 s is not 3599.
    """

    output_field = BigIntegerField()
    arity = 2

    def __init__(self, start: Any, stop: Any) -> None:
        super().__init__(stop, start)  # stop - start

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "CAST(ROUND((julianday(%(expressions)s)) * 86400.0, 3) AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, arg_joiner=") - julianday(", **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "TRUNC(EXTRACT(EPOCH FROM (%(expressions)s)))::bigint"
        return self.as_sql(compiler, connection, template=template, arg_joiner=" - ", **extra)


def _aws() -> Q:
    return Q(reported_billable_seconds__isnull=False, status__in=statuses.TERMINAL)


def _retained_in(since: datetime) -> Any:
    # Warm-pool time AWS reports follows the end: it counts in the window the job ended in.
    return Case(
        When(training_end_time__gte=since, then=Coalesce("warm_pool_retained_seconds", Value(0))),
        default=Value(0),
        output_field=BigIntegerField(),
    )


def billed_in(window_seconds: Any, since: datetime) -> Any:
    """A finished job's billed seconds per instance inside a window, as ``billing.billed_seconds`` rules.

    AWS's BillableTimeInSeconds (a spot job's savings included) is spread
    over its start-to-end span, so a job that began before the window counts
    only its share; without it, the seconds inside the window.

    The first two cases need no date arithmetic: a job that ended before
    the window adds nothing, one AWS billed that began inside it adds its
    whole figure. With a column per day of a month, those are most rows,
    and the arithmetic per row and column is what the query spends its time on.
    """
    span = SecondsBetween("training_start_time", "training_end_time")
    aws = _aws()
    reported = F("reported_billable_seconds")
    zero = Value(0, output_field=BigIntegerField())
    return Case(
        When(training_end_time__lt=since, then=zero),
        When(aws & Q(training_start_time__gte=since), then=reported + Coalesce("warm_pool_retained_seconds", zero)),
        When(
            aws & Q(training_start_time__lt=F("training_end_time")),
            then=reported * window_seconds / span + _retained_in(since),
        ),
        When(aws & Q(training_end_time__gte=since), then=reported + _retained_in(since)),
        When(aws, then=zero),
        default=window_seconds + _retained_in(since),
        output_field=BigIntegerField(),
    )


@dataclass(frozen=True)
class Configuration:
    """One row of ``billed_since``: a group's jobs of one instance configuration, and their sums."""

    group: Any
    instance_type: str
    instance_count: int
    instance_groups: list[Any] | None
    is_spot: bool
    status: str
    jobs: int
    sums: list[int]  # per instance, in the order of the columns asked for


def billed_since(
    jobs: TrainingJobQuerySet,
    columns: Sequence[tuple[str, datetime]],
    now: datetime,
    *,
    until: datetime | None = None,
    group: Any = None,
) -> list[Configuration]:
    """Per group and instance configuration, each column's seconds per instance: (part, since) pairs.

    One query (a UNION ALL of the jobs that ended since the earliest window,
    added up in SQL, and those still running, one row each). ``until``: leave
    out jobs that started at or after it (they add nothing to a window that
    ends there). ``group``: an expression to add up by (a tag's value, the
    source's name...); None for no group.
    """
    earliest = min(since for _part, since in columns)
    # To the millisecond, as SQLite keeps times and AWS sends them: a rounded
    # up ``now`` would count a second more for some running jobs.
    now_ms = at(now.replace(microsecond=now.microsecond // 1000 * 1000))
    stop = Least(Coalesce("training_end_time", now_ms), now_ms)
    # A job gone at the source is billed to when it was last seen, not to a now that keeps growing.
    last_seen = Case(When(GONE, then=Coalesce("described_at", "gone_at")), default=now_ms)
    running_stop = Least(last_seen, now_ms)
    zero = Value(0, output_field=BigIntegerField())

    def inside(since: datetime, until: Any) -> Any:
        return Greatest(SecondsBetween(Greatest("training_start_time", at(since)), until), zero)

    def ended_sum(part: str, since: datetime) -> Any:
        seconds = inside(since, stop)
        if part == BILLED:
            return Sum(billed_in(seconds, since))
        if part == AWS_PART:
            return Sum(Case(When(_aws(), then=billed_in(seconds, since)), default=zero, output_field=BigIntegerField()))
        if part == RETAINED:
            return Sum(_retained_in(since))
        if part == SPAN:
            return Sum(seconds)
        return zero  # running and gone parts: none of these jobs runs

    def running_value(part: str, since: datetime) -> Any:
        so_far = Case(
            When(training_end_time__isnull=True, then=inside(since, running_stop)),
            default=zero,
            output_field=BigIntegerField(),
        )
        if part in (BILLED, SPAN):
            return so_far
        if part == RUNNING_PART:
            return Case(When(GONE, then=zero), default=so_far, output_field=BigIntegerField())
        if part == GONE_PART:
            return Case(When(GONE, then=so_far), default=zero, output_field=BigIntegerField())
        return zero  # nothing AWS-billed or retained yet

    base = jobs.filter(training_start_time__lt=until or now).order_by()
    group_expression = group if group is not None else Value("", output_field=TextField())
    keys = ("grp", "groups", "instance_type", "instance_count", "is_spot", "status")
    names = [f"c{i}" for i in range(len(columns))]
    # Grouped by the JSON cast to text first, as otherwise SQLite walks the
    # instance type index over every job for the GROUP BY order.
    ended = (
        base.filter(training_end_time__gte=earliest)
        .annotate(grp=group_expression, groups=Cast("instance_groups", TextField()))
        .values_list(*keys)
        .annotate(
            n=Count("id"),
            **{name: ended_sum(part, since) for name, (part, since) in zip(names, columns, strict=True)},
        )
    )
    # Running, one row each (grouped, SQLite walks that index again). Those
    # with an end time are in ``ended`` already, or ended before the window: as
    # a WHERE condition, SQLite would search the end-time index for every job
    # without one instead of the few running.
    running = (
        base.unfinished()
        .annotate(
            grp=group_expression,
            groups=Cast("instance_groups", TextField()),
            n=Value(1, output_field=BigIntegerField()),
            **{name: running_value(part, since) for name, (part, since) in zip(names, columns, strict=True)},
        )
        .values_list(*keys, "n", *names)
    )
    merged: dict[tuple[Any, ...], list[int]] = {}
    for grp, groups, instance_type, count, is_spot, status, n, *sums in ended.union(running, all=True):
        totals = merged.setdefault(
            (grp, groups or "", instance_type, count, bool(is_spot), status), [0] * (1 + len(sums))
        )
        totals[0] += n or 0
        for i, seconds in enumerate(sums, start=1):
            totals[i] += seconds or 0
    return [
        Configuration(grp, instance_type, count, json.loads(groups) if groups else None, is_spot, status, t[0], t[1:])
        for (grp, groups, instance_type, count, is_spot, status), t in merged.items()
    ]


def billed_seconds_since(since: datetime, now: datetime) -> tuple[Any, Any]:
    """Per-instance seconds billed from ``since`` to ``now``, as ``billed_since`` counts them.

    Two expressions, for the two halves of ``billed_since``'s UNION: one for jobs
    with an end time (filter ``training_end_time__gte=since``), one for jobs
    not in a terminal status (``unfinished()``), which is 0 for those with
    an end time so no job is counted twice. Price them per instance
    configuration with ``jobs.costs.rate_for``. Used by the team budget
    alerts, which add them up per tag value.
    """
    now_ms = at(now.replace(microsecond=now.microsecond // 1000 * 1000))
    stop = Least(Coalesce("training_end_time", now_ms), now_ms)
    running_stop = Least(Case(When(GONE, then=Coalesce("described_at", "gone_at")), default=now_ms), now_ms)

    def inside(until: Any) -> Any:
        return Greatest(SecondsBetween(Greatest("training_start_time", at(since)), until), Value(0))

    ended = billed_in(inside(stop), since)
    running = Case(
        When(training_end_time__isnull=True, then=inside(running_stop)),
        default=Value(0),
        output_field=BigIntegerField(),
    )
    return ended, running
