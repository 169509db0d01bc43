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

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
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
    since = now - timedelta(hours=24)
    ended = Q(training_end_time__gte=since) | Q(training_end_time__isnull=True, last_modified_time__gte=since)
    counts = TrainingJob.objects.filter(
        Q(creation_time__gte=since) | Q(training_end_time__gte=since) | Q(last_modified_time__gte=since)
    ).aggregate(
        started=Count("id", filter=Q(creation_time__gte=since)),
        completed=Count("id", filter=Q(status=statuses.COMPLETED) & ended),
        failed=Count("id", filter=Q(status=statuses.FAILED) & ended),
        stopped=Count("id", filter=Q(status=statuses.STOPPED) & ended),
    )
    return {key: counts[key] or 0 for key in ("started", "completed", "failed", "stopped")}


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
    # Jobs whose billed span (TrainingStartTime -> end, or now) overlaps the week.
    rows = (
        TrainingJob.objects.filter(training_start_time__lt=now)
        .filter(Q(training_end_time__gte=week) | (Q(training_end_time__isnull=True) & ~Q(status__in=statuses.TERMINAL)))
        .values_list("instance_type", "instance_count", "instance_groups", "training_start_time", "training_end_time")
    )
    rates: dict[tuple[str, int, str], Decimal | None] = {}
    for instance_type, count, groups, start, end in rows:
        rate_key = (instance_type, count, repr(groups) if groups else "")
        if rate_key not in rates:
            rates[rate_key] = rate_for(instance_type, count, groups, prices)
        rate = rates[rate_key]
        stop = min(end or now, now)
        for key, since in windows.items():
            per_instance = _seconds(max(start, since), stop)
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
