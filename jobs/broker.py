"""A plain redis-py connection to the Celery broker, for pings, queue lengths and shared counters.

Short timeouts: a health probe or a metrics scrape must answer even when
Redis does not, and an AWS call's counter must never hold up the sync.
"""

from __future__ import annotations

import threading

import redis
from django.conf import settings

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def connection() -> redis.Redis:
    """One client (a connection pool) per broker URL, per process."""
    url = settings.CELERY_BROKER_URL
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        return client
