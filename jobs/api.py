"""The JSON API: jobs (same filters as the jobs page) and the status figures.

Read-only and database-only, like the pages. Authentication is session or
token (REST_FRAMEWORK settings); every endpoint needs a logged-in user,
except /api/status/ when TRAINWATCH_STATUS_PUBLIC makes the status page
public.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.models import Prefetch
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from rest_framework.decorators import api_view, permission_classes, renderer_classes
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from jobs import costs
from jobs.domain import cloudwatch as cw
from jobs.domain.dates import utc_iso
from jobs.export import csv_response
from jobs.filters import BadFilter, JobFilter
from jobs.models import FinalMetric, LogTail, MetricSeries, SeriesChunk, StatusTransition, TrainingJob
from jobs.paging import capped_count, page_of_jobs
from jobs.serializers import job_data, job_detail_data
from jobs.status import status_figures


class JobPagination(BasePagination):
    """Pages of a job list, counted like the jobs page: up to COUNT_CAP, then
    "count_capped". "next" comes from one row past the page, so paging on past
    the cap works; a page past the end is a 404 (as DRF's own paginator says).
    """

    page_size = 50
    # A 1,000-row export in one request.
    max_page_size = 1000

    def __init__(self, flt: JobFilter) -> None:
        self.flt = flt

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        self.request = request
        self.size = _positive_int(request.query_params.get("page_size"), self.page_size, self.max_page_size)
        try:
            self.number = int(request.query_params.get("page", 1))
        except ValueError:
            raise NotFound("Invalid page.") from None
        if self.number < 1:
            raise NotFound("Invalid page.")
        rows = page_of_jobs(self.flt, queryset, (self.number - 1) * self.size, self.size + 1)
        if not rows and self.number > 1:
            raise NotFound("Invalid page.")
        self.has_next = len(rows) > self.size
        self.count, self.count_capped = capped_count(self.flt)
        return rows[: self.size]

    def get_paginated_response(self, data: list[dict[str, Any]]) -> Response:
        url = self.request.build_absolute_uri()
        previous = None
        if self.number == 2:
            previous = remove_query_param(url, "page")
        elif self.number > 2:
            previous = replace_query_param(url, "page", self.number - 1)
        return Response(
            {
                "count": self.count,
                "count_capped": self.count_capped,
                "next": replace_query_param(url, "page", self.number + 1) if self.has_next else None,
                "previous": previous,
                "results": data,
            }
        )


def _positive_int(value: str | None, default: int, cutoff: int) -> int:
    """A page size from the query string: a bad or missing value is the default, a big one the cutoff."""
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return min(number, cutoff) if number > 0 else default


def _jobs() -> Any:
    metrics = FinalMetric.objects.only("job_id", "name", "value").order_by("name")
    return TrainingJob.objects.select_related("source").prefetch_related(Prefetch("metrics", queryset=metrics))


class CSVRenderer(BaseRenderer):
    """Lets ``?format=csv`` through DRF's content negotiation; job_list streams the file itself."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        # Only errors (a 400 or 401) are rendered here: as JSON text.
        return json.dumps(data).encode() if data is not None else b""


@api_view(["GET"])
@renderer_classes([JSONRenderer, CSVRenderer])
def job_list(request: Request) -> Response | StreamingHttpResponse:
    """Jobs, filtered and sorted exactly like the jobs page (see JobFilter).

    ``?format=csv``: every matching job as a streamed CSV (jobs.export), not a page.

    A query string no filter can use is a 400 naming the parameter. An empty
    list carries "warnings" when a filter value is one no job has and none
    known (``?status=Bogus``): statuses AWS adds later are stored, so such a
    value is not refused.
    """
    try:
        flt = JobFilter.from_query(request.query_params)
    except BadFilter as error:
        raise ValidationError({error.param: [str(error)]}) from error
    if request.accepted_renderer.format == "csv":
        return csv_response(flt)
    paginator = JobPagination(flt)
    page = paginator.paginate_queryset(flt.apply().for_list(), request)
    now, prices = timezone.now(), costs.price_table()
    metrics = FinalMetric.objects.by_job([job.pk for job in page])
    data = [job_data(job, prices, now, metrics[job.pk]) for job in page]
    response = paginator.get_paginated_response(data)
    if not paginator.count and (warnings := flt.unknown_values()):
        response.data["warnings"] = warnings
    return response


@api_view(["GET"])
def job_detail(request: Request, job_id: int) -> Response:
    transitions = StatusTransition.objects.order_by("position")
    job = get_object_or_404(_jobs().prefetch_related(Prefetch("transitions", queryset=transitions)), pk=job_id)
    return Response(job_detail_data(job, costs.price_table(), timezone.now()))


# Up to the display copy's size, a series is downsampled from it; more points
# than that read the whole stored series (megabytes for a long job).
SERIES_MAX_POINTS = 5000


def _points_param(request: Request) -> int:
    raw = request.query_params.get("points", str(cw.DISPLAY_POINTS))
    if not raw.isdigit() or not 3 <= int(raw) <= SERIES_MAX_POINTS:
        raise ValidationError({"points": f"a whole number from 3 to {SERIES_MAX_POINTS}"})
    return int(raw)


@api_view(["GET"])
def job_series(request: Request, job_id: int) -> Response:
    """The job's CloudWatch series (algorithm metrics, utilization per host), downsampled to ``?points=``."""
    job = get_object_or_404(TrainingJob.objects.only("id"), pk=job_id)
    points = _points_param(request)
    full = points > cw.DISPLAY_POINTS
    rows = MetricSeries.objects.filter(job=job).order_by("kind", "host", "name")
    rows = list(rows.defer("display") if full else rows)
    # Past the display copy's resolution the stored points are read: every day chunk, one query.
    stored = SeriesChunk.objects.points_of([row.pk for row in rows]) if full else {}
    results = []
    for row in rows:
        series = cw.unpack_points(stored[row.pk] if full else row.display)
        results.append(
            {
                "kind": row.kind,
                "name": row.name,
                "host": row.host,
                "stored_points": row.point_count,
                "last_value": row.last_value,
                "fetched_up_to": utc_iso(row.cursor),
                "points": [[utc_iso(datetime.fromtimestamp(t, UTC)), v] for t, v in cw.lttb(series, points)],
            }
        )
    return Response({"job": job.pk, "results": results})


@api_view(["GET"])
def job_logs(request: Request, job_id: int) -> Response:
    """Each host's stored log tail: cleaned text, newest last; ``length`` above the text's is a cut line."""
    job = get_object_or_404(TrainingJob.objects.only("id"), pk=job_id)
    results = [
        {
            "host": tail.host,
            "stream": tail.stream,
            "events_seen": tail.events_seen,
            "last_event_at": utc_iso(tail.last_event_at),
            "lines": [
                {"timestamp": utc_iso(datetime.fromtimestamp(at / 1000, UTC)), "text": text, "length": length}
                for at, text, length in tail.lines
            ],
        }
        for tail in LogTail.objects.filter(job=job).order_by("host", "stream")
    ]
    return Response({"job": job.pk, "results": results})


class StatusPermission(IsAuthenticated):
    def has_permission(self, request: Request, view: Any) -> bool:
        return settings.TRAINWATCH_STATUS_PUBLIC or super().has_permission(request, view)


@api_view(["GET"])
@permission_classes([StatusPermission])
def status(request: Request) -> Response:
    """The status page's figures (jobs.status), the same data the page renders.

    Anonymous readers (only let in when the status page is public) get the
    public variant: no ARNs or sync error text.
    """
    public = not request.user.is_authenticated
    return Response(_jsonable(status_figures(timezone.now(), public=public)))


_WALKED = (datetime, dict, list, tuple)


def _jsonable(value: Any) -> Any:
    """Datetimes as ISO 8601 UTC ("Z"), containers walked; the rest as the renderer takes it.

    Plain values are passed over without a call each: the status figures
    list every running job, tens of thousands of values.
    """
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) if isinstance(v, _WALKED) else v for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) if isinstance(v, _WALKED) else v for v in value]
    return value
