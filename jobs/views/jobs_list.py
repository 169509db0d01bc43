"""The jobs list and the fragment endpoint that refreshes its running rows.

Both render each row with the same partial, jobs/partials/job_row.html, so
the page and the refresh send the same markup. It is a Jinja2 template
(jobs/jinja2/, autoescaped): in the Django template language, 50 rows were most of
the page's time (bench/README.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from jobs.costs import Prices, job_price, price_table
from jobs.domain import statuses, tuning
from jobs.filters import BadFilter, JobFilter, check_query, parse_ids, tag_param
from jobs.models import FinalMetric, MetricSeries, SeriesKind, Source, TrainingJob, TrainingJobStatus
from jobs.paging import capped_count, page_of_jobs
from jobs.templatetags.trainwatch import status_label

PAGE_SIZE = 50
MAX_REFRESH_IDS = 200
MAX_COMPARE = 20  # jobs.views.compare.MAX_JOBS: more would be refused there
TAGS_SHOWN = 3
ROW_TEMPLATE = "jobs/partials/job_row.html"
ROWS_TEMPLATE = "jobs/partials/job_rows.html"

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
    cost_basis: str = ""  # billing basis of ``cost`` (jobs.domain.billing)
    metric_is_last: bool = False  # ``metric_value`` is the running curve's newest point, not a final metric

    @property
    def running(self) -> bool:
        return self.job.is_running

    @property
    def tag_links(self) -> list[tuple[str, str, str]]:
        """The first tags as (key, value, the tag filter that matches them) for the row's chips."""
        tags = self.job.tags if isinstance(self.job.tags, dict) else {}
        pairs = [(str(k), str(v)) for k, v in list(tags.items())[:TAGS_SHOWN]]
        return [(key, value, tag_param(key, value)) for key, value in pairs]


def _duration_seconds(job: TrainingJob, now: datetime) -> int | None:
    """Wall-clock time from creation to the end (or to now while running)."""
    end = (job.training_end_time or job.last_modified_time) if job.is_terminal else now
    if end is None:
        return None
    return max(0, int((end - job.creation_time).total_seconds()))


def _rows(jobs: list[TrainingJob], metric: str, prices: Prices, now: datetime) -> list[JobRow]:
    values: dict[int, float] = {}
    last_values: dict[int, float] = {}
    if metric and jobs:
        values = dict(
            FinalMetric.objects.filter(job_id__in=[j.pk for j in jobs], name=metric).values_list("job_id", "value")
        )
        # A running job has no final metric yet: its curve's newest point stands in, marked as such.
        waiting = [j.pk for j in jobs if j.is_running and j.pk not in values]
        if waiting:
            last_values = dict(
                MetricSeries.objects.filter(
                    job_id__in=waiting, kind=SeriesKind.ALGORITHM, name=metric, host="", last_value__isnull=False
                ).values_list("job_id", "last_value")
            )
    rows = []
    for job in jobs:
        cost = job_price(job, prices, now=now)
        rows.append(
            JobRow(
                job=job,
                duration_seconds=_duration_seconds(job, now),
                billable_seconds=job.billable_seconds_now(now),
                cost=cost.usd if cost else None,
                metric_value=values.get(job.pk, last_values.get(job.pk)),
                metric_is_last=job.pk in last_values,
                cost_basis=cost.basis if cost else "",
            )
        )
    return rows


def _row_context(metric: str, now: datetime, selected: frozenset[int] = frozenset()) -> dict[str, object]:
    """What job_row.html reads besides the row, the same for every row; ``selected`` ticks jobs to compare."""
    return {"metric": metric, "now": now, "index_url": reverse("jobs:index"), "selected": selected}


def _filtered(flt: JobFilter) -> bool:
    """Whether anything but the sort and the metric column narrows the list."""
    return any(k not in {"sort", "metric"} for k in flt.active)


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

    PostgreSQL has no skip scan: a plain DISTINCT read every metric
    row to find a dozen names; this is one index probe per name.
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


def _same_labels(values: Iterable[str]) -> list[tuple[str, str]]:
    return [(value, value) for value in values]


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    try:
        flt = JobFilter.from_query(request.GET)
    except BadFilter as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
    page = _page_number(request)
    now = timezone.now()
    qs = flt.apply().for_list()
    offset = (page - 1) * PAGE_SIZE
    # One row past the page says whether a next page exists without a count.
    jobs = page_of_jobs(flt, qs, offset, PAGE_SIZE + 1)
    has_next = len(jobs) > PAGE_SIZE
    jobs = jobs[:PAGE_SIZE]
    filtered = _filtered(flt)
    matched, matched_capped = capped_count(flt)

    prices = price_table()
    rows = _rows(jobs, flt.metric, prices, now)
    # The jobs ticked to compare, kept in ?compare= across pages, filters and sorts (static/js/jobs_list.js).
    selected = parse_ids(request.GET.get("compare", ""), limit=MAX_COMPARE)
    if selected:
        # A job deleted since it was ticked would make the compare page refuse the whole selection.
        known = set(TrainingJob.objects.filter(pk__in=selected).values_list("pk", flat=True))
        selected = [pk for pk in selected if pk in known]
    on_page = {job.pk for job in jobs}
    # Autoescaped by the Jinja2 template that made it.
    rows_html = mark_safe(
        render_to_string(
            ROWS_TEMPLATE, {"rows": rows, **_row_context(flt.metric, now, frozenset(selected))}, using="jinja2"
        )
    )
    filter_params = flt.active
    ctx = {
        "filter": flt,
        "rows": rows,
        "rows_html": rows_html,
        "headers": _headers(flt),
        "selected": selected,
        "selected_elsewhere": [pk for pk in selected if pk not in on_page],
        "page": page,
        "has_next": has_next,
        "next_url": "?" + urlencode({**filter_params, "page": page + 1}),
        # Every row of the filtered list, in the list's order (jobs.export).
        "tuning_url": reverse("jobs:tuning", args=[tuning.name_of(flt.tuning_job)])
        if tuning.TUNING_ARN_MARK in flt.tuning_job and tuning.name_of(flt.tuning_job)
        else None,
        "csv_url": reverse("jobs:jobs_csv") + ("?" + urlencode(filter_params) if filter_params else ""),
        "prev_url": "?" + urlencode({**filter_params, "page": page - 1}) if page > 1 else None,
        "first_index": offset + 1 if rows else 0,
        "last_index": offset + len(rows),
        "matched": matched,
        "matched_capped": matched_capped,
        # (value, label) pairs for the filters' <select>s (jobs/partials/options.html).
        "status_options": [(value, status_label(value)) for value, _ in TrainingJobStatus.choices],
        "phase_options": _same_labels(statuses.SECONDARY_STATUSES),
        "instance_type_options": _same_labels(t for t in _distinct_values(TrainingJob, "instance_type") if t),
        "source_options": _same_labels(Source.objects.values_list("name", flat=True)),
        "metric_options": _same_labels(_distinct_values(FinalMetric, "name")),
        "filtered": filtered,
        "filter_notices": [] if rows else flt.unknown_values(),
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
    try:
        check_query(request.GET)
    except BadFilter as error:
        return JsonResponse({"error": str(error)}, status=400)
    ids = parse_ids(request.GET.get("ids", ""), limit=MAX_REFRESH_IDS)
    metric = request.GET.get("metric", "").strip()
    now = timezone.now()
    jobs = list(TrainingJob.objects.filter(pk__in=ids).for_list()) if ids else []
    prices = price_table() if jobs else {}
    rows = _rows(jobs, metric, prices, now)
    row_context = _row_context(metric, now)
    payload = {
        "rows": [
            {
                "id": row.job.pk,
                "running": row.running,
                "html": render_to_string(ROW_TEMPLATE, {"row": row, **row_context}, using="jinja2"),
            }
            for row in rows
        ],
        "running": sum(1 for row in rows if row.running),
    }
    return JsonResponse(payload)
