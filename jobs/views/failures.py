"""Failed jobs grouped by failure signature, newest problem first.

Three queries whatever the number of failures: the groups (aggregated in
SQL), the newest few jobs of each shown group (a LIMIT per group on an
index, then those rows by id), and the shown groups' per-day counts over
the last TREND_DAYS days for the trend bars.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import dateformat, timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from jobs.domain import statuses
from jobs.figures_cache import cached_figures
from jobs.models import TrainingJob

MAX_GROUPS = 50
EXAMPLES_PER_GROUP = 3
TREND_DAYS = 14
NEW_WITHIN = timedelta(hours=24)
GROUPS_TEMPLATE = "jobs/partials/failure_groups.html"


@dataclass
class TrendDay:
    day: date
    count: int
    height: float  # percent of the busiest day in the group
    # The day as the bar's title shows it ("Nov 20"): the same fourteen labels
    # for every group, so formatted once per page, not once per bar.
    label: str = ""


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
        # COUNT(creation_time), not COUNT(id): the same number (NOT NULL), and
        # every column is in the (status, signature, creation time) index, so
        # PostgreSQL reads that index alone. Its indexes do not carry the id
        # as SQLite's do: counting ids read every failed row.
        .annotate(count=Count("creation_time"), first_seen=Min("creation_time"), last_seen=Max("creation_time"))
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

    # The newest few ids of each group, each a LIMIT on the (status,
    # signature, creation time) index; then only those rows are read, with
    # their long reasons. Ranking whole rows with ROW_NUMBER() read every
    # failed job's reason; ranking ids still sorted all 20,000 index entries.
    examples = (
        TrainingJob.objects.filter(pk__in=RawSQL(*_newest_ids_sql(list(groups))))
        .only("id", "name", "failure_signature", "failure_reason", "creation_time", "instance_type", "source_id")
        .order_by("failure_signature", "-creation_time", "-id")
    )
    for job in examples:
        groups[job.failure_signature].examples.append(job)

    _add_trends(failed, groups, timezone.localdate(now))
    return list(groups.values()), more


def _newest_ids_sql(signatures: list[str]) -> tuple[str, list[str]]:
    """SQL for the ids of each signature's newest EXAMPLES_PER_GROUP failed jobs, and its parameters.

    One UNION ALL of a LIMIT per signature, written out: built as 50 ORM
    subqueries OR-ed together it cost more Python than the queries. Each
    branch is wrapped in a derived table, the one form both SQLite and
    PostgreSQL accept for a LIMIT inside a UNION.
    """
    table = connection.ops.quote_name(TrainingJob._meta.db_table)
    branch = (
        f"SELECT * FROM (SELECT id FROM {table} WHERE status = %s AND failure_signature = %s"
        f" ORDER BY creation_time DESC, id DESC LIMIT {EXAMPLES_PER_GROUP}) AS g{{}}"
    )
    sql = " UNION ALL ".join(branch.format(i) for i in range(len(signatures)))
    params = [value for signature in signatures for value in (statuses.FAILED, signature)]
    return sql, params


def _add_trends(failed: QuerySet, groups: dict[str, FailureGroup], today: date) -> None:
    """Each group's failures per day over the last TREND_DAYS days, in one query.

    Only the shown groups' last TREND_DAYS days are read: a range on
    creation time within each signature of the (status, signature, creation
    time) index, not the whole index as conditional counts in the grouping
    query would. The per-day counts are conditional counts over those few
    entries, so no row's datetime is converted in Python.
    """
    days = [today - timedelta(days=TREND_DAYS - 1 - i) for i in range(TREND_DAYS + 1)]
    starts = [timezone.make_aware(datetime.combine(d, datetime.min.time())) for d in days]
    per_day = {
        f"day_{i}": Count("creation_time", filter=Q(creation_time__gte=start, creation_time__lt=end))
        for i, (start, end) in enumerate(pairwise(starts))
    }
    rows = (
        failed.filter(failure_signature__in=list(groups), creation_time__gte=starts[0], creation_time__lt=starts[-1])
        .values("failure_signature")
        .annotate(**per_day)
        .order_by()
    )
    counts_by_signature = {row["failure_signature"]: [row[f"day_{i}"] for i in range(TREND_DAYS)] for row in rows}
    labels = [dateformat.format(d, "M j") for d in days[:TREND_DAYS]]
    no_failures = [0] * TREND_DAYS
    for signature, group in groups.items():
        counts = counts_by_signature.get(signature, no_failures)
        peak = max(counts) or 1
        group.trend = [
            TrendDay(d, n, round(n / peak * 100, 1), label) for d, n, label in zip(days, counts, labels, strict=False)
        ]


@login_required
@require_GET
def failures(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    groups, more = cached_figures("failures", now, lambda: failure_groups(now))
    # The groups' partial is a Jinja2 template (jobs/jinja2/, autoescaped): 50
    # groups of 14 trend bars were most of the page in the Django template language.
    groups_html = render_to_string(
        GROUPS_TEMPLATE, {"groups": groups, "now": now, "trend_days": TREND_DAYS}, using="jinja2"
    )
    ctx = {
        "groups": groups,
        "groups_html": mark_safe(groups_html),
        "more_groups": more,
        "max_groups": MAX_GROUPS,
        "trend_days": TREND_DAYS,
        "now": now,
    }
    return render(request, "jobs/failures.html", ctx)
