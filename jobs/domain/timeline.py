"""Secondary-status transitions: merging repeated reads and phase durations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from jobs.domain.parse import Transition


def merge_transitions(stored: Iterable[Transition], incoming: Iterable[Transition]) -> list[Transition]:
    """Union of two reads of one job's history, keyed by (status, start).

    A later read wins for the same step (it may have gained an EndTime or a
    new message); steps only one read knows are kept, so a truncated or
    stale response never erases history. With restarts the same status
    appears more than once, at different start times.
    """
    merged: dict[tuple[str, datetime], Transition] = {}
    for item in stored:
        merged[(item.status, item.start_time)] = item
    for item in incoming:
        known = merged.get((item.status, item.start_time))
        if known is not None and item.end_time is None and known.end_time is not None:
            # An older read can end a step a newer one had closed; keep the end.
            item = Transition(item.status, item.start_time, known.end_time, item.message or known.message)
        merged[(item.status, item.start_time)] = item
    return sorted(merged.values(), key=lambda t: (t.start_time, t.end_time is None))


def transition_seconds(item: Transition, *, now: datetime) -> int:
    """How long one step lasted, or has lasted so far when still open."""
    end = item.end_time or now
    return max(0, int((end - item.start_time).total_seconds()))


def phase_durations(transitions: Iterable[Transition], *, now: datetime) -> dict[str, int]:
    """Total seconds per secondary status, in order of first appearance.

    A phase repeated by restarts (Starting, Training after a spot
    interruption) adds up. Open steps count up to ``now``; terminal marker
    steps such as Completed count zero since nothing runs in them.
    """
    totals: dict[str, int] = {}
    for item in transitions:
        totals[item.status] = totals.get(item.status, 0) + transition_seconds(item, now=now)
    return totals


def restart_count(transitions: Iterable[Transition]) -> int:
    """How many times the job started again (retries, spot interruptions)."""
    return sum(1 for t in transitions if t.status in {"Restarting", "Interrupted"})
