"""The address a request came from, for the /metrics allow-list and login throttling."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR; behind a proxy (BEHIND_TLS_PROXY), the address the proxy appended last.

    Only the right-most X-Forwarded-For entry is the proxy's own: anything left
    of it was sent by the client and may be forged. Behind a proxy without the
    header, None: the proxy's own (often loopback) address must not stand in
    for every client.
    """
    if settings.BEHIND_TLS_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        raw = forwarded.rsplit(",", 1)[-1].strip() if forwarded.strip() else ""
    else:
        raw = request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None
