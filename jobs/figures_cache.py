"""The summary pages' figures, computed once for every viewer for a few seconds.

The failures page groups every failed job and the status page adds up the
week's spend: at a million jobs that is more than the page budget, and a
wall screen, the API and every open tab ask for the same figures again and
again. They change only when a store changes a job (a ``JobChange`` row) or
as time passes, so each is kept in Django's cache under the newest change's
id and a time bucket of TRAINWATCH_FIGURES_CACHE_SECONDS: a stored change is
shown at once, a clock-driven figure (running time, "last 24 h") at most that
many seconds late. 0 turns it off.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

from jobs.models import JobChange

T = TypeVar("T")


def cached_figures(name: str, now: datetime, compute: Callable[[], T]) -> T:
    """``compute()``'s value for ``name``, shared by every request in the same bucket."""
    seconds = settings.TRAINWATCH_FIGURES_CACHE_SECONDS
    if seconds <= 0:
        return compute()
    newest_change = JobChange.objects.order_by("-id").values_list("id", flat=True).first()
    key = f"trainwatch:figures:{name}:{newest_change}:{int(now.timestamp()) // seconds}"
    return cache.get_or_set(key, compute, timeout=seconds)
