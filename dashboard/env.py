"""Tiny, strict readers for settings that come from the environment.

A bad value stops start-up with a message naming the variable, rather than
silently falling back to a default the operator did not ask for; the entry
points (manage.py, the Celery app, the run command) print that message as
one line, not a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

# sysexits.h EX_CONFIG: what a process exits with when a setting is bad, so a
# parent (the run command) knows the message has been printed already.
EX_CONFIG = 78


def envbool(name: str, default: str) -> bool:
    raw = os.getenv(name, default).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off")


def envint(name: str, default: str, *, minimum: int | None = None) -> int:
    raw = os.getenv(name, default).strip()
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def envjson(name: str, default: str) -> object:
    raw = os.getenv(name, default)
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"{name} is not valid JSON: {exc}") from None


def envdatabase(name: str, default: str, **options: Any) -> dict[str, Any]:
    """A database URL (dj-database-url's syntax) as a ``DATABASES`` entry.

    The value itself is never repeated in the message: it may hold a password.
    """
    import dj_database_url

    try:
        return dict(dj_database_url.config(env=name, default=default, **options))
    except ValueError as exc:  # an unknown scheme, a port that is not a number
        raise ImproperlyConfigured(f"{name} is not a database URL such as postgres://user:pw@host/db: {exc}") from None


@contextmanager
def one_line_config_errors() -> Iterator[None]:
    """Turn a bad setting into one line on stderr and exit ``EX_CONFIG``."""
    try:
        yield
    except ImproperlyConfigured as exc:
        print(f"trainwatch: bad setting: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(EX_CONFIG) from None
