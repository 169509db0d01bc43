"""The team status page, for a wall screen, and its refresh fragment.

Public (no login) when TRAINWATCH_STATUS_PUBLIC is on; anonymous viewers
then get the figures without sensitive fields and without links.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET

from jobs.status import status_figures

DEFAULT_REFRESH_SECONDS = 15
# A wall screen has room for a few dozen running jobs, not hundreds: the
# oldest this many are listed, with a count of the rest.
RUNNING_SHOWN = 30


def _login_unless_public(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated and not settings.TRAINWATCH_STATUS_PUBLIC:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper


def _refresh_seconds(request: HttpRequest) -> int:
    """?every=N for a wall screen that should refresh faster or slower."""
    try:
        return max(1, min(int(request.GET.get("every", DEFAULT_REFRESH_SECONDS)), 600))
    except ValueError:
        return DEFAULT_REFRESH_SECONDS


def _context(request: HttpRequest) -> dict:
    now = timezone.now()
    public = not request.user.is_authenticated
    figures = status_figures(now, public=public, running_limit=RUNNING_SHOWN)
    return {"figures": figures, "public": public, "now": now}


@_login_unless_public
@require_GET
def status(request: HttpRequest) -> HttpResponse:
    ctx = _context(request)
    ctx["refresh_seconds"] = _refresh_seconds(request)
    return render(request, "jobs/status.html", ctx)


@_login_unless_public
@require_GET
def status_fragment(request: HttpRequest) -> JsonResponse:
    ctx = _context(request)
    html = render_to_string("jobs/partials/status_body.html", ctx, request=request)
    return JsonResponse({"html": html, "generated_at": ctx["now"].isoformat()})
