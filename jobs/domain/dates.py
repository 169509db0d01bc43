"""Durations and moments as people read them on the pages, and as the API writes them."""

from __future__ import annotations

from datetime import UTC, datetime

_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def format_duration(seconds: float | None, *, parts: int = 2) -> str:
    """Largest units first, at most ``parts`` of them: "1 h 5 min", "3 d 2 h"."""
    if seconds is None:
        return ""
    remaining = max(0, int(seconds))
    if remaining == 0:
        return "0 s"
    out: list[str] = []
    for label, size in _UNITS:
        amount, remaining = divmod(remaining, size)
        if amount:
            out.append(f"{amount} {label}")
        elif out:
            # "1 h 0 min 5 s" would mislead: stop at the first gap after a start.
            break
        if len(out) == parts:
            break
    return " ".join(out)


def format_hms(seconds: float | None) -> str:
    """Clock style, hours unbounded: "1:05:03", "27:00:00", "0:00:09"."""
    if seconds is None:
        return ""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def format_ago(moment: datetime | None, now: datetime) -> str:
    """ "14 s ago", "3 min ago", "2 h ago", "5 d ago"; "in 10 s" for clock skew."""
    if moment is None:
        return "never"
    delta = int((now - moment).total_seconds())
    if -5 <= delta < 5:
        return "just now"
    text = format_duration(abs(delta), parts=1)
    return f"{text} ago" if delta > 0 else f"in {text}"


def utc_iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with "Z" for +00:00, whatever TIME_ZONE the deployment runs in; None stays None.

    The one ISO formatter of the API and the JSON fragments. A naive value is
    taken as UTC (the database stores UTC).
    """
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
