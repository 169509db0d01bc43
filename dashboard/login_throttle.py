"""Login throttling with django-axes: who a failed login counts against, and the page a locked-out client sees."""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.client_ip import client_ip


class LoginAttemptsHandler(AxesDatabaseHandler):
    """django-axes' database handler, with a narrower reset on a successful login.

    Axes' own reset deletes every attempt matching the username *or* the
    address: someone with an account of their own could then log in to it
    between guesses at another user's password and never reach the limit. A
    success clears only the failures of that username from that address.
    """

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        attempts = AccessAttempt.objects.filter(username=get_client_username(request, credentials))
        count, _ = attempts.filter(ip_address=request.axes_ip_address).delete()
        return count


def lockout_parameters(request_or_attempt: object, credentials: dict | None = None) -> list[str]:
    """Count failures per username and, separately, per client address.

    One user under attack from many addresses, or one address trying many
    users, is locked out. A request whose address is unknown (behind a proxy
    that sent no X-Forwarded-For) counts against its username only: every
    such request would share the one unknown address, and a single attacker
    would lock out everyone.
    """
    if isinstance(request_or_attempt, HttpRequest):
        address = getattr(request_or_attempt, "axes_ip_address", None) or client_ip(request_or_attempt)
    else:  # an AccessAttempt row
        address = getattr(request_or_attempt, "ip_address", None)
    return ["username", "ip_address"] if address else ["username"]


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """429 Too Many Requests, with a page that says when to try again, on the dashboard's and the admin's login."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    context = {"cooloff_minutes": seconds // 60, "failure_limit": settings.AXES_FAILURE_LIMIT}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
