"""Is a source's data fresh? The one rule, used by /healthz, /metrics, the status page and the admin.

A source is fine while its last cycle that finished without a cycle-level
error (``last_success_at``) is at most ``intervals`` sync intervals old.
Only a finished cycle sets that time, so a cycle left unfinished by a
killed worker never counts as a success: the source goes stale instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from jobs.domain.dates import format_duration

# Three missed ticks, not one: a single slow or throttled cycle is normal.
LATE_AFTER_INTERVALS = 3


class SyncState(StrEnum):
    """Values as /api/status/ has always published them; ``label`` is what people read."""

    OK = "ok"
    STALE = "late"
    FAILING = "error"
    NEVER = "never"
    # The last cycle started over a lease ago and never finished: its process died.
    UNFINISHED = "unfinished"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    SyncState.OK: "ok",
    SyncState.STALE: "stale",
    SyncState.FAILING: "failing",
    SyncState.NEVER: "never synced",
    SyncState.UNFINISHED: "unfinished cycle",
}


@dataclass(frozen=True)
class SourceHealth:
    state: SyncState
    # Seconds since the last successful cycle; None if there never was one.
    age_seconds: int | None
    # Older than this is stale: LATE_AFTER_INTERVALS sync intervals.
    late_after_seconds: int
    # One line for people, without AWS's error text (public pages show it).
    reason: str

    @property
    def ok(self) -> bool:
        return self.state is SyncState.OK

    @property
    def synced_recently(self) -> bool:
        """A successful cycle within the limit, even if the latest one failed.

        What /healthz asks: one throttled cycle does not take the service
        out of a load balancer, three intervals without a success do.
        """
        return self.age_seconds is not None and self.age_seconds <= self.late_after_seconds


def source_health(
    *,
    last_success_at: datetime | None,
    last_error: str,
    now: datetime,
    interval_seconds: int,
    last_cycle_abandoned: bool = False,
) -> SourceHealth:
    """The state of one source at ``now``; a failed last cycle outranks age."""
    limit = LATE_AFTER_INTERVALS * interval_seconds
    # A clock behind AWS's or the database's: a success "in the future" is fresh.
    age = None if last_success_at is None else max(0, int((now - last_success_at).total_seconds()))
    since = "never" if age is None else f"{format_duration(age)} ago"
    if last_error:
        return SourceHealth(SyncState.FAILING, age, limit, f"the last cycle failed; last success {since}")
    if age is None:
        return SourceHealth(SyncState.NEVER, None, limit, "no cycle has finished without error yet")
    if last_cycle_abandoned:
        return SourceHealth(SyncState.UNFINISHED, age, limit, f"the last cycle never finished; last success {since}")
    if age > limit:
        return SourceHealth(
            SyncState.STALE,
            age,
            limit,
            f"last success {since}, more than {LATE_AFTER_INTERVALS} sync intervals ({format_duration(limit)})",
        )
    return SourceHealth(SyncState.OK, age, limit, f"last success {since}")
