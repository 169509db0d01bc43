"""How often a source's running jobs are described: less often while its events arrive.

A running job is described every sync cycle (its elapsed time, phases and
metrics move without an event). While a source's SageMaker state-change
events are arriving, a status change reaches us in seconds by push, so the
describe cycle of running jobs stretches by a factor; listing still runs
every cycle and catches whatever the events missed. When events stop (the
consumer died, the rule was deleted, or the account simply went quiet), the
source is back to polling at the normal interval by itself once the window
has passed: no state to reset.
"""

from __future__ import annotations

from datetime import datetime, timedelta

PUSH = "push"
POLLING = "polling"


def push_active(last_event_at: datetime | None, now: datetime, *, window_seconds: int) -> bool:
    """The source's last event was consumed at most ``window_seconds`` ago."""
    if last_event_at is None:
        return False
    # A clock step backwards (last event "in the future") still counts as recent.
    return now - last_event_at <= timedelta(seconds=window_seconds)


def sync_mode(last_event_at: datetime | None, now: datetime, *, window_seconds: int) -> str:
    """Push while events arrive, polling otherwise: what the status board shows."""
    return PUSH if push_active(last_event_at, now, window_seconds=window_seconds) else POLLING


def describe_interval(
    base_seconds: int, last_event_at: datetime | None, now: datetime, *, window_seconds: int, factor: int
) -> int:
    """Seconds between describes of one running job: ``base_seconds``, times ``factor`` under push."""
    if factor > 1 and push_active(last_event_at, now, window_seconds=window_seconds):
        return base_seconds * factor
    return base_seconds
