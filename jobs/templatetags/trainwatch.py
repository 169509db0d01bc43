"""Filters for the pages; each one delegates to a pure helper."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from html import escape as html_escape
from typing import Any

from django import template
from django.utils import timezone
from django.utils.dateformat import DateFormat
from django.utils.formats import localize
from django.utils.safestring import SafeString

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


def escape_value(value: object) -> str:
    """django.utils.html.conditional_escape without its lazy-string wrapper: same output."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html_escape(str(value))


def html(format_string: str, *args: object) -> SafeString:
    """django.utils.html.format_html, cheaper per call: every argument is escaped unless already safe.

    For markup repeated per row or per bar, where the template engine's
    variable lookups and filters cost more than the page's queries.
    """
    return SafeString(format_string.format(*map(escape_value, args)))


def local_datetime(moment: datetime) -> DateFormat:
    """A DateFormat in the current time zone, as the ``|date`` filter formats it."""
    return DateFormat(timezone.localtime(moment) if timezone.is_aware(moment) else moment)


def _clock(moment: datetime | None) -> str:
    """``|date:"H:i:s"``."""
    if moment is None:
        return ""
    df = local_datetime(moment)
    return f"{df.H()}:{df.i()}:{df.s()}"


@register.simple_tag
def timeline_lane_labels(bars: list) -> SafeString:
    """The timeline's lane labels: one ``<li>`` per bar (timeline_chart.Bar)."""
    return SafeString(
        "".join(
            html(
                '<li class="{}" title="{}"><span class="lane-status">{}</span> <span class="muted">{}</span></li>',
                "restart" if bar.is_restart else "",
                bar.status,
                bar.status,
                (
                    dates.format_duration(bar.seconds) + "…"
                    if bar.is_open
                    else dates.format_duration(bar.seconds)
                    if bar.seconds
                    else ""
                ),
            )
            for bar in bars
        )
    )


@register.simple_tag
def select_options(values: Any, selected: str, *, status_labels: bool = False) -> SafeString:
    """``<option>``s for a filter's values, the current one selected.

    Values may be (value, label) choices; the status labels are ours
    (status_label), not the choices'.
    """
    out = []
    for value in values:
        if isinstance(value, tuple | list):
            value = value[0]
        out.append(
            html(
                '<option value="{}"{}>{}</option>',
                value,
                " selected" if selected == value else "",
                status_label(value) if status_labels else value,
            )
        )
    return SafeString("".join(out))


_BAR = (
    "\n        "
    '<rect class="bar {}{}{}" x="{}%" y="{}" transform="translate(0 5)" width="{}%" height="18" rx="3">'
    "<title>{} · {} · {}\u2013{}{}</title></rect>"
    "\n        "
)


@register.simple_tag
def timeline_bars(bars: list) -> SafeString:
    """The timeline's SVG bars, one ``<rect>`` per bar (timeline_chart.Bar), 28 px apart."""
    out = []
    for index, bar in enumerate(bars):
        seconds = dates.format_duration(bar.seconds)
        out.append(
            html(
                _BAR,
                phase_class(bar.status),
                " restart" if bar.is_restart else "",
                " open" if bar.is_open else "",
                localize(bar.left),
                index * 28,
                localize(bar.width),
                bar.status,
                f"{seconds} so far" if bar.is_open else seconds,
                _clock(bar.start_time),
                _clock(bar.end_time) or "now",
                f"\n{bar.message}" if bar.message else "",
            )
        )
    return SafeString("".join(out))


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
    if seconds is None:
        return "—"
    return f"{seconds / 3600:,.1f} h"


@register.filter
def spend_basis(by_basis: dict | None) -> str:
    """Which figures a spend total adds up (status figures' ``by_basis``), for a tooltip."""
    if not isinstance(by_basis, dict):
        return ""
    parts = [
        f"{hours(by_basis.get(basis, 0))} {text}"
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


@register.filter
def get_item(mapping: dict, key: Any) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None
