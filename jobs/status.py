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
        "running": [                          # every job not in a terminal status, oldest first
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
        "last_24h": {"started": int, "completed": int, "failed": int, "stopped": int},
        "recent": [                           # newest 10 jobs that ended in the last 24 h
            {"id": int, "name": str, "status": str, "source": str, "ended_at": datetime},
        ],
        "spend": {
            "today": {"since": datetime, "billable_seconds": int, "billable_hours": float,
                      "estimated_usd": float, "unpriced_seconds": int},
            "week": {...same keys, since Monday 00:00...},
        },
        "sources": [
            {
                "name": str, "region": str, "enabled": bool,
                "last_success_at": datetime | None,
                "seconds_since_success": int | None,
                "state": "ok" | "late" | "error" | "never",
                "last_error": str,                # only when not public
            },
        ],
        "late_after_seconds": int,            # 3 x TRAINWATCH_SYNC_INTERVAL
    }

Six queries whatever the number of jobs.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import (
    BigIntegerField,
    BooleanField,
    CharField,
    Count,
    DateTimeField,
    ExpressionWrapper,
    Func,
    Q,
    TextField,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Greatest, Least
from django.utils import timezone

from jobs.costs import Prices, price_table, rate_for
from jobs.domain import statuses
from jobs.models import Source, TrainingJob

RECENT_LIMIT = 10
# Every field the running list reads; nothing heavy.
_FIELDS = (
    "id",
    "arn",
    "name",
    "status",
    "secondary_status",
    "source__name",
    "instance_type",
    "instance_count",
    "instance_groups",
    "creation_time",
    "training_start_time",
    "training_end_time",
    "max_runtime_seconds",
)


def _seconds(a: datetime, b: datetime) -> int:
    return max(0, int((b - a).total_seconds()))


def _running(now: datetime, public: bool) -> list[dict[str, Any]]:
    out = []
    jobs = TrainingJob.objects.running().select_related("source").only(*_FIELDS).order_by()
    # Sorted here: with ORDER BY creation_time SQLite walks that index over
    # every job instead of searching the status index for the few running.
    for job in sorted(jobs, key=lambda j: (j.creation_time, j.pk)):
        training = _seconds(job.training_start_time, now) if job.training_start_time else None
        used = None
        if job.max_runtime_seconds:
            used = round(min(100.0, (training or 0) / job.max_runtime_seconds * 100), 1)
        item = {
            "id": job.pk,
            "name": job.name,
            "status": job.status,
            "secondary_status": job.secondary_status,
            "source": job.source.name,
            "instance_type": job.instance_type,
            "instance_count": job.instance_count,
            "creation_time": job.creation_time,
            "training_start_time": job.training_start_time,
            "elapsed_seconds": _seconds(job.creation_time, now),
            "training_seconds": training,
            "max_runtime_seconds": job.max_runtime_seconds,
            "runtime_used_percent": used,
        }
        if not public:
            item["arn"] = job.arn
        out.append(item)
    return out


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


def _at(moment: datetime) -> Value:
    return Value(moment, output_field=DateTimeField())


class _SecondsBetween(Func):
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


def _spend(now: datetime, prices: Prices) -> dict[str, dict[str, Any]]:
    """Billable time and cost inside today and this week (local time zone)."""
    local = timezone.localtime(now)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - timedelta(days=today.weekday())
    windows = {"today": today, "week": week}
    # Seconds per hourly rate, priced once at the end: a week can hold
    # thousands of jobs, and Decimal arithmetic per row is what would cost.
    by_rate: dict[str, dict[Decimal, int]] = {key: {} for key in windows}
    instance_seconds = dict.fromkeys(windows, 0)
    unpriced_seconds = dict.fromkeys(windows, 0)
    # Jobs whose billed span (TrainingStartTime -> end, or now) overlaps the
    # week: those that ended since Monday (a range on the end-time index) and
    # those still running (ranges on the status index). As one OR, SQLite
    # walked every job. The seconds inside each window are computed in SQL:
    # turning thousands of datetime strings into Python datetimes is what
    # cost here.
    stop = Least(Coalesce("training_end_time", _at(now)), _at(now))
    seconds = {
        key: _SecondsBetween(Greatest("training_start_time", _at(since)), stop) for key, since in windows.items()
    }
    fields = ("instance_type", "instance_count", "groups", *(f"s_{key}" for key in windows))
    jobs = (
        TrainingJob.objects.filter(training_start_time__lt=now)
        .order_by()
        .annotate(
            groups=Cast("instance_groups", TextField()),
            ended=ExpressionWrapper(Q(training_end_time__isnull=False), output_field=BooleanField()),
            **{f"s_{key}": expression for key, expression in seconds.items()},
        )
    )
    ended = jobs.filter(training_end_time__gte=week).annotate(running=Value(False))
    ended = ended.values_list(*fields, "ended", "running")
    # Running jobs with an end time are in ``ended`` already, or ended before
    # the week: skipped below (as a condition here, SQLite would search the
    # end-time index for every job without one instead of the few running).
    running = jobs.running().annotate(running=Value(True)).values_list(*fields, "ended", "running")
    per_key: dict[tuple[str, int, str], list[int]] = {}
    for instance_type, count, groups, *per_window, has_end, is_running in ended.union(running, all=True):
        if is_running and has_end:
            continue
        totals = per_key.setdefault((instance_type, count, groups or ""), [0] * len(windows))
        for i, window_seconds in enumerate(per_window):
            if window_seconds > 0:
                totals[i] += window_seconds
    for (instance_type, count, groups), totals in per_key.items():
        decoded = json.loads(groups) if groups else None
        rate = rate_for(instance_type, count, decoded, prices)
        for key, per_instance in zip(windows, totals, strict=True):
            if not per_instance:
                continue
            instance_seconds[key] += per_instance * max(count, 1)
            if rate is None:
                unpriced_seconds[key] += per_instance * max(count, 1)
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
        }
    return out


def _sources(now: datetime, public: bool) -> list[dict[str, Any]]:
    late_after = 3 * settings.TRAINWATCH_SYNC_INTERVAL
    out = []
    for source in Source.objects.order_by("name"):
        since = _seconds(source.last_success_at, now) if source.last_success_at else None
        if source.last_error:
            state = "error"
        elif since is None:
            state = "never"
        elif since > late_after:
            state = "late"
        else:
            state = "ok"
        item = {
            "name": source.name,
            "region": source.region,
            "enabled": source.enabled,
            "last_success_at": source.last_success_at,
            "seconds_since_success": since,
            "state": state,
        }
        if not public:
            item["last_error"] = source.last_error
        out.append(item)
    return out


def status_figures(now: datetime | None = None, *, public: bool = False) -> dict[str, Any]:
    """Everything the status page shows, as plain data (see the module docstring)."""
    now = now or timezone.now()
    return {
        "generated_at": now,
        "public": public,
        "running": _running(now, public),
        "last_24h": _last_24h(now),
        "recent": _recent(now),
        "spend": _spend(now, price_table()),
        "sources": _sources(now, public),
        "late_after_seconds": 3 * settings.TRAINWATCH_SYNC_INTERVAL,
    }
