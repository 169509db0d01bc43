"""The jobs list and the fragment endpoint that refreshes its running rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET

from jobs.costs import Prices, job_cost, price_table
from jobs.domain import statuses
from jobs.filters import JobFilter
from jobs.models import FinalMetric, Source, TrainingJob, TrainingJobStatus

PAGE_SIZE = 50
# Counting every match of a filter over 100,000 rows costs more than the page
# itself; past this many we say "10,000+".
COUNT_CAP = 10_000
MAX_REFRESH_IDS = 200
TAGS_SHOWN = 3
# Columns the list never shows; raw alone can be tens of kilobytes per row.
LIST_DEFERRED = ("raw", "hyperparameters", "input_channels", "failure_reason", "role_arn", "labeling_job_arn")

COLUMNS = (
    ("name", "Name"),
    ("status", "Status"),
    ("created", "Created"),
    (None, "Duration"),
    ("billable", "Billable"),
    (None, "Est. cost"),
    ("instance", "Instances"),
)


@dataclass
class JobRow:
    job: TrainingJob
    duration_seconds: int | None
    billable_seconds: int | None
    cost: Decimal | None
    metric_value: float | None

    @property
    def running(self) -> bool:
        return not self.job.is_terminal

    @property
    def tag_pairs(self) -> list[tuple[str, str]]:
        tags = self.job.tags if isinstance(self.job.tags, dict) else {}
        return [(str(k), str(v)) for k, v in list(tags.items())[:TAGS_SHOWN]]


def _duration_seconds(job: TrainingJob, now: datetime) -> int | None:
    """Wall-clock time from creation to the end (or to now while running)."""
    end = (job.training_end_time or job.last_modified_time) if job.is_terminal else now
    if end is None:
        return None
    return max(0, int((end - job.creation_time).total_seconds()))


def _rows(jobs: list[TrainingJob], metric: str, prices: Prices, now: datetime) -> list[JobRow]:
    values: dict[int, float] = {}
    if metric and jobs:
        values = dict(
            FinalMetric.objects.filter(job_id__in=[j.pk for j in jobs], name=metric).values_list("job_id", "value")
        )
    return [
        JobRow(
            job=job,
            duration_seconds=_duration_seconds(job, now),
            billable_seconds=job.billable_seconds_now(now),
            cost=job_cost(job, prices, now=now),
            metric_value=values.get(job.pk),
        )
        for job in jobs
    ]


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, min(int(request.GET.get("page", "1")), 10_000))
    except ValueError:
        return 1


def _headers(flt: JobFilter) -> list[dict]:
    """Column headers with the link that sorts by them (again: reversed)."""
    out = []
    columns = list(COLUMNS)
    if flt.metric:
        columns.append(("metric", flt.metric))
    for key, label in columns:
        header = {"label": label, "key": key, "url": None, "active": False, "descending": False}
        if key:
            active = flt.sort_key == key
            # Time and cost read best newest/largest first; text A to Z.
            first = "-" if key in {"created", "billable", "metric"} else ""
            sort = (key if flt.descending else f"-{key}") if active else f"{first}{key}"
            params = {**flt.active, "sort": sort}
            header.update(url="?" + urlencode(params), active=active, descending=active and flt.descending)
        out.append(header)
    return out


def _distinct_values(model: type[Model], column: str) -> list[str]:
    """SELECT DISTINCT column, as a walk that jumps from value to value on the column's index.

    PostgreSQL has no skip scan: a plain DISTINCT read all 400,000 metric
    rows (150-200 ms) to find a dozen names; this is one index probe per name.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    col = connection.ops.quote_name(model._meta.get_field(column).column)
    sql = (
        f"WITH RECURSIVE walk(v) AS ("
        f"SELECT MIN({col}) FROM {table} "
        f"UNION ALL SELECT (SELECT MIN({col}) FROM {table} WHERE {col} > walk.v) FROM walk WHERE walk.v IS NOT NULL"
        f") SELECT v FROM walk WHERE v IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    flt = JobFilter.from_query(request.GET)
    page = _page_number(request)
    now = timezone.now()
    qs = flt.apply().select_related("source").defer(*LIST_DEFERRED)
    offset = (page - 1) * PAGE_SIZE
    # One row past the page says whether a next page exists without a count.
    if offset:
        # Past page 1, skip rows on the index alone, then fetch the page's rows:
        # an OFFSET over whole rows read every skipped job's raw JSON
        # (page 1,000 took 0.4-1 s at 100,000 jobs on SQLite).
        ids = list(flt.apply().values_list("pk", flat=True)[offset : offset + PAGE_SIZE + 1])
        by_pk = qs.in_bulk(ids)
        jobs = [by_pk[pk] for pk in ids if pk in by_pk]
    else:
        jobs = list(qs[offset : offset + PAGE_SIZE + 1])
    has_next = len(jobs) > PAGE_SIZE
    jobs = jobs[:PAGE_SIZE]
    matched = qs.order_by()[: COUNT_CAP + 1].count()

    prices = price_table()
    rows = _rows(jobs, flt.metric, prices, now)
    filter_params = flt.active
    ctx = {
        "filter": flt,
        "rows": rows,
        "headers": _headers(flt),
        "page": page,
        "has_next": has_next,
        "next_url": "?" + urlencode({**filter_params, "page": page + 1}),
        "prev_url": "?" + urlencode({**filter_params, "page": page - 1}) if page > 1 else None,
        "first_index": offset + 1 if rows else 0,
        "last_index": offset + len(rows),
        "matched": min(matched, COUNT_CAP),
        "matched_capped": matched > COUNT_CAP,
        "status_choices": TrainingJobStatus.choices,
        "secondary_choices": statuses.SECONDARY_STATUSES,
        "instance_types": [t for t in _distinct_values(TrainingJob, "instance_type") if t],
        "sources": Source.objects.values_list("name", flat=True),
        "metric_names": _distinct_values(FinalMetric, "name"),
        "filtered": any(k not in {"sort", "metric"} for k in flt.active),
        "now": now,
    }
    return render(request, "jobs/index.html", ctx)


@login_required
@require_GET
def running_rows(request: HttpRequest) -> JsonResponse:
    """Fresh HTML rows for the jobs a list page shows as running.

    ``ids`` is the comma-separated list the page sends; ``metric`` keeps the
    chosen metric column. Jobs that finished come back too (their final row),
    and the page stops polling for them.
    """
    ids = []
    for part in request.GET.get("ids", "").split(","):
        if part.strip().isdigit():
            ids.append(int(part))
    ids = ids[:MAX_REFRESH_IDS]
    metric = request.GET.get("metric", "").strip()
    now = timezone.now()
    jobs = list(TrainingJob.objects.filter(pk__in=ids).select_related("source").defer(*LIST_DEFERRED)) if ids else []
    prices = price_table() if jobs else {}
    rows = _rows(jobs, metric, prices, now)
    payload = {
        "rows": [
            {
                "id": row.job.pk,
                "running": row.running,
                "html": render_to_string(
                    "jobs/partials/job_row.html", {"row": row, "filter": JobFilter(metric=metric), "now": now}
                ),
            }
            for row in rows
        ],
        "running": sum(1 for row in rows if row.running),
    }
    return JsonResponse(payload)
