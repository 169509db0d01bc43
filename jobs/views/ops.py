"""Doors for machines: /healthz for probes and load balancers, /metrics for Prometheus."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dashboard.client_ip import client_ip
from jobs import health, metrics


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


def _may_scrape(request: HttpRequest) -> bool:
    """The configured bearer token, or a client address inside TRAINWATCH_METRICS_ALLOW."""
    token = settings.TRAINWATCH_METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    address = client_ip(request)
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in settings.TRAINWATCH_METRICS_ALLOW)


@require_safe
@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format; never open to the world (see _may_scrape)."""
    if not _may_scrape(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(metrics.registry), content_type=CONTENT_TYPE_LATEST)
