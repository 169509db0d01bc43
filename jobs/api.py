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
from django.core.paginator import Paginator as DjangoPaginator
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils import timezone
from rest_framework.decorators import api_view, permission_classes
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from jobs import costs
from jobs.filters import JobFilter
from jobs.models import FinalMetric, StatusTransition, TrainingJob
from jobs.serializers import job_data, job_detail_data
from jobs.status import status_figures
from jobs.views.jobs_list import metric_sort_count


# No count cap: at 100k jobs on SQLite a filtered COUNT took 2-11 ms (the
# index-backed filters at the low end, q= at the top), less than the page
# query itself; a COUNT over a LIMITed subquery was slower, not faster.
class JobPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def __init__(self, count: int | None = None) -> None:
        self.count = count

    def django_paginator_class(self, object_list: Any, per_page: int) -> DjangoPaginator:
        """Django's paginator, given the count when the view knows a cheaper way to it."""
        paginator = DjangoPaginator(object_list, per_page)
        if self.count is not None:
            paginator.count = self.count
        return paginator


# JSON columns the list never shows: decoding raw alone was most of a page.
LIST_DEFERRED = ("raw", "hyperparameters", "input_channels", "role_arn", "labeling_job_arn")


def _jobs() -> Any:
    metrics = FinalMetric.objects.only("job_id", "name", "value").order_by("name")
    return TrainingJob.objects.select_related("source").prefetch_related(Prefetch("metrics", queryset=metrics))


@api_view(["GET"])
def job_list(request: Request) -> Response:
    """Jobs, filtered and sorted exactly like the jobs page (see JobFilter)."""
    flt = JobFilter.from_query(request.query_params)
    queryset = flt.apply(_jobs().defer(*LIST_DEFERRED))
    paginator = JobPagination(count=metric_sort_count(flt))
    page = paginator.paginate_queryset(queryset, request)
    now, prices = timezone.now(), costs.price_table()
    data = [job_data(job, prices, now) for job in page]
    return paginator.get_paginated_response(data)


@api_view(["GET"])
def job_detail(request: Request, job_id: int) -> Response:
    transitions = StatusTransition.objects.order_by("position")
    job = get_object_or_404(_jobs().prefetch_related(Prefetch("transitions", queryset=transitions)), pk=job_id)
    return Response(job_detail_data(job, costs.price_table(), timezone.now()))


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


def _jsonable(value: Any) -> Any:
    """Datetimes as ISO 8601 UTC ("Z"), containers walked; the rest as the renderer takes it."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
