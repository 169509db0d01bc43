"""Filters for the pages; each one delegates to a pure helper."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from django import template
from django.utils import timezone

from jobs.domain import billing, dates, statuses

register = template.Library()

# Explicit status -> CSS class mapping; anything AWS adds later is "unknown".
STATUS_CLASSES = {
    statuses.IN_PROGRESS: "running",
    statuses.STOPPING: "stopping",
    statuses.COMPLETED: "completed",
    statuses.FAILED: "failed",
    statuses.STOPPED: "stopped",
    statuses.DELETING: "stopped",
}
SECONDARY_CLASSES = {
    "Completed": "completed",
    "Failed": "failed",
    "Stopped": "stopped",
    "Stopping": "stopping",
    "MaxRuntimeExceeded": "failed",
    "MaxWaitTimeExceeded": "failed",
    "Interrupted": "warning",
    "Restarting": "warning",
    "Training": "running",
    "Starting": "prep",
    "Pending": "prep",
    "LaunchingMLInstances": "prep",
    "PreparingTrainingStack": "prep",
    "Updating": "prep",
    "Downloading": "download",
    "DownloadingTrainingImage": "download",
    "Uploading": "upload",
}
STATUS_LABELS = {statuses.IN_PROGRESS: "Running"}


@register.filter
def status_class(status: str) -> str:
    return STATUS_CLASSES.get(status, "unknown")


@register.filter
def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status or "Unknown")


@register.filter
def phase_class(secondary_status: str) -> str:
    return SECONDARY_CLASSES.get(secondary_status, "phase")


@register.filter
def duration(seconds: float | None) -> str:
    return dates.format_duration(seconds)


@register.filter
def hms(seconds: float | None) -> str:
    return dates.format_hms(seconds)


@register.filter
def ago(moment: datetime | None, now: datetime | None = None) -> str:
    return dates.format_ago(moment, now or timezone.now())


@register.filter
def usd(amount: Decimal | float | None) -> str:
    if amount is None:
        return "—"
    return f"${amount:,.2f}"


@register.filter
def hours(seconds: float | None) -> str:
    """Instance-seconds as hours, one decimal."""
    return _hours(seconds)


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds / 3600:,.1f} h"


@register.filter
def spend_basis(by_basis: dict | None) -> str:
    """Which figures a spend total adds up (status figures' ``by_basis``), for a tooltip."""
    if not isinstance(by_basis, dict):
        return ""
    parts = [
        f"{_hours(by_basis.get(basis, 0))} {text}"
        for basis, text in (
            (billing.AWS, "from AWS's billable time"),
            (billing.START_TO_END, "start to end (AWS gave none)"),
            (billing.RUNNING, "running so far"),
            (billing.LAST_SEEN, "until last seen (gone at the source)"),
        )
    ]
    return "Billed instance-hours: " + ", ".join(parts)


@register.filter
def basis_label(basis: str) -> str:
    return billing.BASIS_LABELS.get(basis, ("", ""))[0]


@register.filter
def basis_explanation(basis: str) -> str:
    return billing.BASIS_LABELS.get(basis, ("", ""))[1]


@register.filter
def pretty_json(value: Any) -> str:
    """Indented JSON; the template still escapes it."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
