"""Doors for machines: /healthz for probes and load balancers, /metrics for Prometheus."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from jobs import health


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and broker answer and every enabled source synced lately; 503 and why otherwise.

    No login: a probe has none. It tells nothing a login would guard: source
    names and states, never error text.
    """
    report = health.check(timezone.now())
    response = JsonResponse(report.as_json(), status=200 if report.healthy else 503)
    # A probe every few seconds would log each 503 as an error in django.request;
    # a database or broker failure is logged once, with its traceback, in jobs.health.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response
