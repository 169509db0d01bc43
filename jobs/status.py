"""Figures for the team status page (and /api/status/).

``status_figures(now)`` returns plain data: dicts, lists, str, int, float,
bool, None and timezone-aware datetimes (JSON encoders of Django and DRF
render those as ISO 8601). Money is an estimate in US dollars as a float,
rounded to the cent. With ``public=True`` nothing sensitive is included: no
ARNs, roles, hyperparameters, tags or sync error text.

Shape::

    {
        "generated_at": datetime,
        "public": bool,
        "running": [                          # jobs not in a terminal status, oldest first: every
                                              # one, or the oldest ``running_limit``
            {
                "id": int, "name": str, "status": str, "secondary_status": str,
                "source": str, "instance_type": str, "instance_count": int,
                "creation_time": datetime, "training_start_time": datetime | None,
                "elapsed_seconds": int,           # since creation
                "training_seconds": int | None,   # since TrainingStartTime
                "max_runtime_seconds": int | None,
                "runtime_used_percent": float | None,  # training_seconds / MaxRuntime, 0-100
                "arn": str,                       # only when not public
            },
        ],
        "running_count": int,                 # every job not in a terminal status
        "last_24h": {"started": int, "completed": int, "failed": int, "stopped": int},
        "recent": [                           # newest 10 jobs that ended in the last 24 h
            {"id": int, "name": str, "status": str, "source": str, "ended_at": datetime},
        ],
        "spend": {
            "today": {"since": datetime, "billable_seconds": int, "billable_hours": float,
                      "estimated_usd": float, "unpriced_seconds": int,
                      "by_basis": {"aws": int, "start-to-end": int, "running so far": int,
                                   "until last seen": int}},
                                          # billed instance-seconds (billing.billed_seconds): AWS's
                                          # BillableTimeInSeconds (+ warm pool) once finished,
                                          # start to end without it, start to now while running,
                                          # to the last describe for a job gone at the source
            "week": {...same keys, since Monday 00:00...},
        },
        "budgets": [                          # each TeamBudget this month, most used first; not when public
            {"tag_key": str, "tag_value": str, "budget_usd": float, "spent_usd": float,
             "projected_usd": float,          # by the month's end at this month's pace
             "used_percent": float, "state": "ok" | "warn" | "over"},
        ],
        "sources": [
            {
                "name": str, "region": str, "enabled": bool,
                "last_success_at": datetime | None,
                "seconds_since_success": int | None,
                "state": "ok" | "late" | "unfinished" | "error" | "never",  # Source.health(now)
                "gone_jobs": int,                 # jobs the source no longer knows (TrainingJob.gone_at)
                "mode": "push" | "polling",       # push: an event consumed within TRAINWATCH_PUSH_WINDOW_SECONDS
                "last_event_at": datetime | None, # when the consumer last stored one of its events
                "seconds_since_event": int | None,
                "last_error": str,                # only when not public
            },
        ],
        "late_after_seconds": int,            # 3 x TRAINWATCH_SYNC_INTERVAL
        "gone_after": int,                    # TRAINWATCH_GONE_AFTER: not-found describes that make a job gone
    }

Six queries whatever the number of jobs, one more for the budgets, and one per tag key that has budgets.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import (
    BigIntegerField,
    CharField,
    Count,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from jobs import budgets, spend
from jobs.costs import Prices, price_table, rate_for
from jobs.domain import billing, statuses
from jobs.domain.health import LATE_AFTER_INTERVALS
from jobs.figures_cache import cached_figures
from jobs.models import Source, TrainingJob

RECENT_LIMIT = 10
# The bases a week's spend can mix (gone jobs' time is billed to when they were last seen).
SPEND_BASES = (billing.AWS, billing.START_TO_END, billing.RUNNING, billing.LAST_SEEN)


def _seconds(a: datetime, b: datetime) -> int:
    return max(0, int((b - a).total_seconds()))


def _running(now: datetime, public: bool, limit: int | None) -> tuple[list[dict[str, Any]], int]:
    """The oldest ``limit`` running jobs (all of them with None), and how many run."""
    out = []
    jobs = (
        TrainingJob.objects.running()
        .order_by()
        .values_list(
            "id",
            "arn",
            "name",
            "status",
            "secondary_status",
            "source__name",
            "instance_type",
            "instance_count",
            "creation_time",
            "training_start_time",
            "max_runtime_seconds",
        )
    )
    # Sorted here: with ORDER BY creation_time SQLite walks that index over
    # every job instead of searching the status index for the few running.
    rows = sorted(jobs, key=lambda row: (row[8], row[0]))
    for pk, arn, name, status, secondary, source, instance_type, count, created, started, max_runtime in rows[:limit]:
        training = _seconds(started, now) if started else None
        used = None
        if max_runtime:
            used = round(min(100.0, (training or 0) / max_runtime * 100), 1)
        item = {
            "id": pk,
            "name": name,
            "status": status,
            "secondary_status": secondary,
            "source": source,
            "instance_type": instance_type,
            "instance_count": count,
            "creation_time": created,
            "training_start_time": started,
            "elapsed_seconds": _seconds(created, now),
            "training_seconds": training,
            "max_runtime_seconds": max_runtime,
            "runtime_used_percent": used,
        }
        if not public:
            item["arn"] = arn
        out.append(item)
    return out, len(rows)


def _last_24h(now: datetime) -> dict[str, int]:
    """Jobs created, and jobs that ended (per terminal status), in the last 24 h.

    One UNION ALL of three range scans, each over the last day's rows only:
    on the creation, end and last-modified time indexes, counting statuses
    with FILTER. (An OR of the three times made SQLite read every job; with
    the status in the WHERE or GROUP BY it walks the status index instead.)
    """
    since = now - timedelta(hours=24)
    jobs = TrainingJob.objects.order_by()

    def counted(qs: Any, part: str, ended: Q) -> Any:
        # Grouped by a constant: no GROUP BY, one row of counts per part.
        return (
            qs.annotate(part=Value(part, output_field=CharField()))
            .values_list("part")
            .annotate(
                total=Count("id"),
                completed=Count("id", filter=Q(status=statuses.COMPLETED) & ended),
                failed=Count("id", filter=Q(status=statuses.FAILED) & ended),
                stopped=Count("id", filter=Q(status=statuses.STOPPED) & ended),
            )
        )

    started = counted(jobs.filter(creation_time__gte=since), "started", Q())
    ended = counted(jobs.filter(training_end_time__gte=since), "ended", Q())
    # A job without an end time that is over (it failed before training
    # began) ended when it last changed.
    changed = counted(jobs.filter(last_modified_time__gte=since), "changed", Q(training_end_time__isnull=True))
    counts = dict.fromkeys(("started", "completed", "failed", "stopped"), 0)
    for part, total, completed, failed, stopped in started.union(ended, changed, all=True):
        if part == "started":
            counts["started"] = total
            continue
        counts["completed"] += completed
        counts["failed"] += failed
        counts["stopped"] += stopped
    return counts


def _recent(now: datetime) -> list[dict[str, Any]]:
    since = now - timedelta(hours=24)
    jobs = (
        TrainingJob.objects.terminal()
        .filter(training_end_time__gte=since)
        .select_related("source")
        .only("id", "name", "status", "source__name", "training_end_time")
        .order_by("-training_end_time")[:RECENT_LIMIT]
    )
    return [
        {"id": j.pk, "name": j.name, "status": j.status, "source": j.source.name, "ended_at": j.training_end_time}
        for j in jobs
    ]


def _spend(now: datetime, prices: Prices) -> dict[str, dict[str, Any]]:
    """Billed time and cost inside today and this week (local time zone).

    Billed as a job's cost is (``billing.billed_seconds``): AWS's billable
    time once a job finished, start to now while it runs.
    """
    local = timezone.localtime(now)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - timedelta(days=today.weekday())
    windows = {"today": today, "week": week}
    # Seconds per hourly rate, priced once at the end: a week can hold
    # thousands of jobs, and Decimal arithmetic per row is what would cost.
    by_rate: dict[str, dict[Decimal, int]] = {key: {} for key in windows}
    instance_seconds = dict.fromkeys(windows, 0)
    unpriced_seconds = dict.fromkeys(windows, 0)
    by_basis: dict[str, dict[str, int]] = {key: dict.fromkeys(SPEND_BASES, 0) for key in windows}
    parts = (spend.BILLED, spend.AWS_PART, spend.RUNNING_PART, spend.GONE_PART)
    columns = [(part, since) for since in windows.values() for part in parts]
    for row in spend.billed_since(TrainingJob.objects.all(), columns, now):
        rate = rate_for(row.instance_type, row.instance_count, row.instance_groups, prices)
        every = max(row.instance_count, 1)
        for i, key in enumerate(windows):
            per_instance, aws_part, running_part, gone_part = row.sums[i * 4 : i * 4 + 4]
            if not per_instance:
                continue
            instance_seconds[key] += per_instance * every
            by_basis[key][billing.AWS] += aws_part * every
            by_basis[key][billing.RUNNING] += running_part * every
            by_basis[key][billing.LAST_SEEN] += gone_part * every
            rest = per_instance - aws_part - running_part - gone_part
            by_basis[key][billing.START_TO_END] += rest * every
            if rate is None:
                unpriced_seconds[key] += per_instance * every
            else:
                by_rate[key][rate] = by_rate[key].get(rate, 0) + per_instance
    out = {}
    for key, since in windows.items():
        cost = sum((Decimal(seconds) / Decimal(3600) * rate for rate, seconds in by_rate[key].items()), Decimal(0))
        out[key] = {
            "since": since,
            "billable_seconds": instance_seconds[key],
            "billable_hours": round(instance_seconds[key] / 3600, 2),
            "estimated_usd": float(round(cost, 2)),
            "unpriced_seconds": unpriced_seconds[key],
            "by_basis": by_basis[key],
        }
    return out


def _sources(now: datetime, public: bool) -> list[dict[str, Any]]:
    out = []
    # Each count a search of the small partial index on gone jobs.
    gone = TrainingJob.objects.gone().filter(source=OuterRef("pk")).order_by().values("source")
    gone_counts = Subquery(gone.annotate(n=Count("id")).values("n"), output_field=BigIntegerField())
    for source in Source.objects.annotate(gone_jobs=Coalesce(gone_counts, Value(0))).order_by("name"):
        health = source.health(now)
        item = {
            "name": source.name,
            "region": source.region,
            "enabled": source.enabled,
            "last_success_at": source.last_success_at,
            "seconds_since_success": health.age_seconds,
            "state": health.state.value,
            "gone_jobs": source.gone_jobs,
            "mode": source.sync_mode(now),
            "last_event_at": source.last_event_at,
            "seconds_since_event": _seconds(source.last_event_at, now) if source.last_event_at else None,
        }
        if not public:
            item["last_error"] = source.last_error
        out.append(item)
    return out


def _totals(now: datetime) -> dict[str, Any]:
    """The figures that add up many jobs: shared between viewers (jobs.figures_cache).

    The running list and the sources' health stay live: they are cheap, and
    a wall screen must show a broken sync at once.
    """
    prices = price_table()
    return {"last_24h": _last_24h(now), "spend": _spend(now, prices), "budgets": _budgets(now, prices)}


def _budgets(now: datetime, prices: Prices) -> list[dict[str, Any]]:
    return [
        {
            "tag_key": line.tag_key,
            "tag_value": line.tag_value,
            "budget_usd": float(line.budget_usd),
            "spent_usd": float(round(line.spent_usd, 2)),
            "projected_usd": float(line.projected_usd),
            "used_percent": round(line.used_percent, 1),
            "state": line.state,
        }
        for line in budgets.month_to_date(now, prices)
    ]


def status_figures(
    now: datetime | None = None, *, public: bool = False, running_limit: int | None = None
) -> dict[str, Any]:
    """Everything the status page shows, as plain data (see the module docstring).

    ``running_limit``: list only the oldest that many running jobs
    (``running_count`` still counts them all); None lists every one.
    """
    now = now or timezone.now()
    running, running_count = _running(now, public, running_limit)
    totals = cached_figures("status-totals", now, lambda: _totals(now))
    if public:  # team names are tag values
        totals = {key: value for key, value in totals.items() if key != "budgets"}
    return {
        "generated_at": now,
        "public": public,
        "running": running,
        "running_count": running_count,
        "recent": _recent(now),
        **totals,
        "sources": _sources(now, public),
        "late_after_seconds": LATE_AFTER_INTERVALS * settings.TRAINWATCH_SYNC_INTERVAL,
        "gone_after": settings.TRAINWATCH_GONE_AFTER,
    }
