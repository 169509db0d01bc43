"""Failed jobs grouped by failure signature, newest problem first.

Three queries whatever the number of failures: the groups (aggregated in
SQL), the newest few jobs of each shown group (one window query), and the
per-day counts for the trend bars (one TruncDate query).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import Count, F, Max, Min, Window
from django.db.models.functions import RowNumber, TruncDate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from jobs.domain import statuses
from jobs.models import TrainingJob

MAX_GROUPS = 50
EXAMPLES_PER_GROUP = 3
TREND_DAYS = 14
NEW_WITHIN = timedelta(hours=24)


@dataclass
class TrendDay:
    day: date
    count: int
    height: float  # percent of the busiest day in the group


@dataclass
class FailureGroup:
    signature: str
    count: int
    first_seen: datetime
    last_seen: datetime
    is_new: bool
    examples: list[TrainingJob] = field(default_factory=list)
    trend: list[TrendDay] = field(default_factory=list)

    @property
    def reason(self) -> str:
        """The newest example's full reason: what people actually read."""
        return self.examples[0].failure_reason if self.examples else self.signature


def failure_groups(now: datetime) -> tuple[list[FailureGroup], bool]:
    """The newest-seen groups (at most MAX_GROUPS), and whether more exist."""
    failed = TrainingJob.objects.filter(status=statuses.FAILED)
    aggregated = list(
        failed.values("failure_signature")
        .annotate(count=Count("id"), first_seen=Min("creation_time"), last_seen=Max("creation_time"))
        .order_by("-last_seen", "failure_signature")[: MAX_GROUPS + 1]
    )
    more = len(aggregated) > MAX_GROUPS
    groups = {
        row["failure_signature"]: FailureGroup(
            signature=row["failure_signature"],
            count=row["count"],
            first_seen=row["first_seen"],
            last_seen=row["last_seen"],
            is_new=row["first_seen"] >= now - NEW_WITHIN,
        )
        for row in aggregated[:MAX_GROUPS]
    }
    if not groups:
        return [], more

    examples = (
        failed.filter(failure_signature__in=list(groups))
        .annotate(rank=Window(RowNumber(), partition_by=F("failure_signature"), order_by=F("creation_time").desc()))
        .filter(rank__lte=EXAMPLES_PER_GROUP)
        .only("id", "name", "failure_signature", "failure_reason", "creation_time", "instance_type", "source_id")
        .order_by("failure_signature", "rank")
    )
    for job in examples:
        groups[job.failure_signature].examples.append(job)

    today = timezone.localdate(now)
    first_day = today - timedelta(days=TREND_DAYS - 1)
    since = timezone.make_aware(datetime.combine(first_day, datetime.min.time()))
    per_day: dict[tuple[str, date], int] = {
        (row["failure_signature"], row["day"]): row["n"]
        for row in failed.filter(failure_signature__in=list(groups), creation_time__gte=since)
        .annotate(day=TruncDate("creation_time"))
        .values("failure_signature", "day")
        .annotate(n=Count("id"))
        .order_by()
    }
    days = [first_day + timedelta(days=i) for i in range(TREND_DAYS)]
    for group in groups.values():
        counts = [per_day.get((group.signature, d), 0) for d in days]
        peak = max(counts) or 1
        group.trend = [TrendDay(d, n, round(n / peak * 100, 1)) for d, n in zip(days, counts, strict=True)]
    return list(groups.values()), more


@login_required
@require_GET
def failures(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    groups, more = failure_groups(now)
    ctx = {
        "groups": groups,
        "more_groups": more,
        "max_groups": MAX_GROUPS,
        "trend_days": TREND_DAYS,
        "now": now,
    }
    return render(request, "jobs/failures.html", ctx)
