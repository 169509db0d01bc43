"""The jobs list as a CSV download, with the list's filters and sort (jobs.export)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.http import require_GET

from jobs.export import csv_response
from jobs.filters import BadFilter, JobFilter


@login_required
@require_GET
def jobs_csv(request: HttpRequest) -> HttpResponse:
    try:
        flt = JobFilter.from_query(request.GET)
    except BadFilter as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
    return csv_response(flt)
