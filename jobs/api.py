"""The JSON API: jobs (same filters as the jobs page) and the status figures.

Read-only and database-only, like the pages. Authentication is session or
token (REST_FRAMEWORK settings); every endpoint needs a logged-in user,
except /api/status/ when TRAINWATCH_STATUS_PUBLIC makes the status page
public.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.paginator import Page
from django.core.paginator import Paginator as DjangoPaginator
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils import timezone
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from jobs import costs
from jobs.domain import cloudwatch as cw
from jobs.domain.dates import utc_iso
from jobs.filters import BadFilter, JobFilter
from jobs.models import FinalMetric, LogTail, MetricSeries, StatusTransition, TrainingJob
from jobs.paging import page_of_jobs
from jobs.serializers import job_data, job_detail_data
from jobs.status import status_figures


class _JobPaginator(DjangoPaginator):
    """Django's paginator, given the count when the view knows a cheaper way to
    it, and fetching a page through ``page_of_jobs`` (ids first past page 1)."""

    def __init__(self, object_list: Any, per_page: int, flt: JobFilter, count: int | None) -> None:
        super().__init__(object_list, per_page)
        self.flt = flt
        if count is not None:
            self.count = count

    def page(self, number: Any) -> Page:
        number = self.validate_number(number)
        offset = (number - 1) * self.per_page
        return self._get_page(page_of_jobs(self.flt, self.object_list, offset, self.per_page), number, self)


# No count cap: a filtered COUNT costs less than the page query itself, and a
# COUNT over a LIMITed subquery was slower, not faster.
class JobPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    # A 1,000-row export in one request.
    max_page_size = 1000

    def __init__(self, flt: JobFilter, count: int | None = None) -> None:
        self.flt = flt
        self.count = count

    def django_paginator_class(self, object_list: Any, per_page: int) -> DjangoPaginator:
        return _JobPaginator(object_list, per_page, self.flt, self.count)


def _jobs() -> Any:
    metrics = FinalMetric.objects.only("job_id", "name", "value").order_by("name")
    return TrainingJob.objects.select_related("source").prefetch_related(Prefetch("metrics", queryset=metrics))


def _final_metrics(jobs: list[TrainingJob]) -> dict[int, list[dict[str, Any]]]:
    """Each job's final metrics as list rows, by name, in one query.

    Plain tuples, not a prefetch: building a FinalMetric per value and a
    related manager per job cost more than the page's query.
    """
    by_job: dict[int, list[dict[str, Any]]] = {job.pk: [] for job in jobs}
    rows = FinalMetric.objects.filter(job_id__in=list(by_job)).order_by("name").values_list("job_id", "name", "value")
    for job_id, name, value in rows:
        by_job[job_id].append({"name": name, "value": float(value)})
    return by_job


@api_view(["GET"])
def job_list(request: Request) -> Response:
    """Jobs, filtered and sorted exactly like the jobs page (see JobFilter).

    A query string no filter can use is a 400 naming the parameter. An empty
    list carries "warnings" when a filter value is one no job has and none
    known (``?status=Bogus``): statuses AWS adds later are stored, so such a
    value is not refused.
    """
    try:
        flt = JobFilter.from_query(request.query_params)
    except BadFilter as error:
        raise ValidationError({error.param: [str(error)]}) from error
    queryset = flt.apply().for_list()
    count = flt.index_count()
    if count is None:
        # Counted without the source join the rows need: with it SQLite read
        # whole rows (the raw JSON included) instead of an index; a name
        # search's count is several times faster without it.
        count = flt.counted().count()
    paginator = JobPagination(flt, count=count)
    page = paginator.paginate_queryset(queryset, request)
    now, prices = timezone.now(), costs.price_table()
    metrics = _final_metrics(page)
    data = [job_data(job, prices, now, metrics[job.pk]) for job in page]
    response = paginator.get_paginated_response(data)
    if not count and (warnings := flt.unknown_values()):
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
    rows = rows.defer("display") if full else rows.defer("points")
    results = []
    for row in rows:
        series = cw.unpack_points(row.points if full else row.display)
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
