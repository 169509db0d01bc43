"""Sources from settings: the default boto3 chain plus configured extras."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from jobs.models import Source

_KEYS = ("region", "profile", "role_arn", "endpoint_url")


def configured_sources() -> list[dict[str, str]]:
    """The sources the environment asks for, validated."""
    wanted: list[dict[str, str]] = []
    if settings.TRAINWATCH_DEFAULT_SOURCE:
        wanted.append(
            {
                "name": "default",
                "region": os.getenv("AWS_DEFAULT_REGION") or os.getenv("AWS_REGION") or "",
                "profile": "",
                "role_arn": "",
                "endpoint_url": "",  # boto3 itself honours AWS_ENDPOINT_URL_SAGEMAKER
            }
        )
    for i, item in enumerate(settings.TRAINWATCH_EXTRA_SOURCES):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ImproperlyConfigured(f"TRAINWATCH_EXTRA_SOURCES[{i}] needs a non-empty 'name'")
        unknown = set(item) - {"name", *_KEYS}
        if unknown:
            raise ImproperlyConfigured(f"TRAINWATCH_EXTRA_SOURCES[{i}] has unknown keys: {sorted(unknown)}")
        wanted.append({"name": item["name"], **{k: str(item.get(k) or "") for k in _KEYS}})
    return wanted


def ensure_configured_sources() -> list[Source]:
    """Create or update a Source row for each configured source.

    Sources added in the admin are left alone; configured ones follow the
    environment, so a changed region or endpoint takes effect on restart.
    """
    rows = []
    for spec in configured_sources():
        defaults = {k: spec[k] for k in _KEYS}
        if spec["name"] == "default" and settings.TRAINWATCH_EVENTS_QUEUE_URL:
            defaults["events_queue_url"] = settings.TRAINWATCH_EVENTS_QUEUE_URL
        source, _ = Source.objects.update_or_create(name=spec["name"], defaults=defaults)
        rows.append(source)
    return rows
