"""What a job's plan looks like at simulated time t.

A plan is the job's natural life; a StopTrainingJob (planned or real) cuts
it and appends Stopping/Stopped. Only transitions that started by t are
visible; the current one has no EndTime.
"""

from __future__ import annotations

import bisect
import math
from typing import NamedTuple

from . import texts
from .population import Event, JobPlan

# SecondaryStatus -> TrainingJobStatus for the statuses that are not InProgress.
PRIMARY = {
    "Stopping": "Stopping",
    "Stopped": "Stopped",
    "MaxRuntimeExceeded": "Stopped",
    "MaxWaitTimeExceeded": "Stopped",
    "Completed": "Completed",
    "Failed": "Failed",
}
TERMINAL = frozenset({"Completed", "Failed", "Stopped"})


def effective_events(plan: JobPlan, api_stop: float | None) -> tuple[Event, ...]:
    """The plan's events with the earliest stop request applied."""
    stops = [s for s in (plan.planned_stop, api_stop) if s is not None]
    if not stops:
        return plan.events
    stop = min(stops)
    last = plan.events[-1]
    # A stop can only land on a job that is still running (not even Stopping).
    running = [e for e in plan.events if e.start <= stop]
    if stop >= last.start or running[-1].status in PRIMARY:
        return plan.events
    # Round down to the wire's millisecond: a stop requested "now" must not
    # land a fraction after now, or a frozen clock would never show it.
    stop = math.floor(stop * 1000) / 1000
    return (
        *running,
        Event("Stopping", stop, texts.MSG["Stopping"]),
        Event("Stopped", math.floor((stop + plan.stop_delay) * 1000) / 1000, texts.MSG["Stopped"]),
    )


class State(NamedTuple):
    """The cheap-to-compute part of a job at time t (enough for list/filter/sort)."""

    status: str
    secondary: str
    last_modified: float
    visible: int  # number of visible transitions
    training_start: float | None
    training_end: float | None  # only once terminal and training had started
    warm_pool: str | None  # InUse | Available | Reused | Terminated
    pool_billable: int | None  # ResourceRetainedBillableTimeInSeconds once the pool is gone
    settled_at: float  # nothing changes after this time


def state_at(plan: JobPlan, events: tuple[Event, ...], t: float) -> State:
    starts = [e.start for e in events]
    visible = bisect.bisect_right(starts, t)
    current = events[visible - 1]
    status = PRIMARY.get(current.status, "InProgress")
    training_start = next((e.start for e in events[:visible] if e.status == "Downloading"), None)
    last_modified = current.start
    terminal_at = events[-1].start
    settled_at = terminal_at
    training_end = None
    warm_pool = None
    pool_billable = None
    if status in TERMINAL:
        if training_start is not None:
            training_end = current.start
        if plan.keep_alive and status == "Completed":
            # The pool waits KeepAlivePeriodInSeconds for a matching job; moving to one ends it here.
            settled_at = plan.reuse_at if plan.reuse_at is not None else terminal_at + plan.keep_alive
            if t >= settled_at:
                warm_pool = "Reused" if plan.reuse_at is not None else "Terminated"
                pool_billable = round(settled_at - terminal_at)
                last_modified = settled_at
            else:
                warm_pool = "Available"
        elif plan.warm_from is not None:
            warm_pool, pool_billable = "Terminated", 0  # a job that did not complete leaves no pool
    elif plan.warm_from is not None:
        warm_pool = "InUse"
    return State(
        status,
        current.status,
        last_modified,
        visible,
        training_start,
        training_end,
        warm_pool,
        pool_billable,
        settled_at,
    )


def billing(plan: JobPlan, events: tuple[Event, ...], state: State) -> tuple[int, int] | None:
    """(TrainingTimeInSeconds, BillableTimeInSeconds) once the job ended after training start."""
    if state.training_end is None or state.training_start is None:
        return None
    training = max(1, round(state.training_end - state.training_start))
    if not plan.spot:
        return training, training
    # Managed spot bills only while instances ran, at the spot discount.
    # Stopping after an interruption (MaxWaitTimeExceeded, or a stop while waiting) runs nothing either.
    running = 0.0
    for k, e in enumerate(events[: state.visible - 1]):
        idle = e.status == "Interrupted" or (e.status == "Stopping" and k > 0 and events[k - 1].status == "Interrupted")
        if e.start >= state.training_start and not idle:
            running += events[k + 1].start - e.start
    billable = max(1, round(running * plan.spot_ratio))
    return training, min(billable, max(1, training - 1))
