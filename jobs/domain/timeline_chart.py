"""Geometry of a job's timeline picture, in percent of the drawn span.

The template draws one lane per secondary-status step (a restart repeats
steps, so repeated lanes show it), a band for the billed span
(TrainingStartTime -> TrainingEndTime) and a line where MaxRuntime would
stop the job. Everything here is plain data so it can be tested without a
browser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from jobs.domain.parse import Transition
from jobs.domain.timeline import transition_seconds

# Steps that mark a break in the run; drawn in a warning colour.
RESTART_STATUSES = frozenset({"Restarting", "Interrupted", "MaxWaitTimeExceeded", "MaxRuntimeExceeded"})
# A zero-length step (Completed, Failed markers) still gets a visible tick.
MIN_WIDTH = 0.6


@dataclass(frozen=True)
class Bar:
    status: str
    message: str
    start_time: datetime
    end_time: datetime | None
    seconds: int
    left: float
    width: float
    is_open: bool
    is_restart: bool


@dataclass(frozen=True)
class Marker:
    label: str
    moment: datetime
    left: float


@dataclass(frozen=True)
class Chart:
    start: datetime
    end: datetime
    bars: list[Bar]
    billed_left: float | None
    billed_width: float | None
    markers: list[Marker]
    limit: Marker | None  # MaxRuntime, when it falls inside the span
    limit_after: datetime | None  # MaxRuntime, when it falls after the span
    restarts: int

    @property
    def lane_count(self) -> int:
        return len(self.bars)


def _pct(moment: datetime, start: datetime, total: float) -> float:
    return round(max(0.0, min(100.0, (moment - start).total_seconds() / total * 100)), 3)


def time_span(
    jobs: Sequence[tuple[datetime, Sequence[Transition], datetime | None, datetime | None, bool]], now: datetime
) -> tuple[datetime, datetime]:
    """The axis that holds every job given as (creation, transitions, training start, training end, running)."""
    starts: list[datetime] = []
    ends: list[datetime] = []
    for creation_time, transitions, training_start_time, training_end_time, running in jobs:
        starts += [creation_time, *(t.start_time for t in transitions)]
        ends += [t.end_time or t.start_time for t in transitions]
        ends += [m for m in (training_end_time, training_start_time) if m]
        if running:
            ends.append(now)
    start = min(starts)
    end = max([start, *ends])
    return start, end


def layout(
    transitions: Sequence[Transition],
    *,
    creation_time: datetime,
    training_start_time: datetime | None,
    training_end_time: datetime | None,
    max_runtime_seconds: int | None,
    running: bool,
    now: datetime,
    span: tuple[datetime, datetime] | None = None,
) -> Chart:
    """Place every step, the billed span and the MaxRuntime limit on one axis.

    ``span`` (from ``time_span`` over several jobs) puts jobs compared side
    by side on the same axis; by default the axis is the job's own.
    """
    start, end = span or time_span([(creation_time, transitions, training_start_time, training_end_time, running)], now)
    if end <= start:
        end = start + timedelta(seconds=1)
    total = (end - start).total_seconds()

    bars = []
    for item in transitions:
        is_open = item.end_time is None and running
        stop = item.end_time or (now if running else item.start_time)
        left = _pct(item.start_time, start, total)
        width = max(MIN_WIDTH, _pct(stop, start, total) - left)
        bars.append(
            Bar(
                status=item.status,
                message=item.message,
                start_time=item.start_time,
                end_time=item.end_time,
                seconds=transition_seconds(item, now=now) if is_open or item.end_time else 0,
                left=min(left, 100 - MIN_WIDTH),
                width=round(min(width, 100 - min(left, 100 - MIN_WIDTH)), 3),
                is_open=is_open,
                is_restart=item.status in RESTART_STATUSES,
            )
        )

    billed_left = billed_width = None
    markers = []
    if training_start_time:
        billed_left = _pct(training_start_time, start, total)
        billed_stop = training_end_time or (now if running else training_start_time)
        billed_width = round(max(MIN_WIDTH / 2, _pct(billed_stop, start, total) - billed_left), 3)
        markers.append(Marker("TrainingStartTime", training_start_time, billed_left))
    if training_end_time:
        markers.append(Marker("TrainingEndTime", training_end_time, _pct(training_end_time, start, total)))

    limit = limit_after = None
    if max_runtime_seconds:
        # MaxRuntime counts from the start of training; before that, from creation.
        origin = training_start_time or creation_time
        moment = origin + timedelta(seconds=max_runtime_seconds)
        if moment <= end:
            limit = Marker("MaxRuntime", moment, _pct(moment, start, total))
        else:
            limit_after = moment

    return Chart(
        start=start,
        end=end,
        bars=bars,
        billed_left=billed_left,
        billed_width=billed_width,
        markers=markers,
        limit=limit,
        limit_after=limit_after,
        restarts=sum(1 for b in bars if b.status in {"Restarting", "Interrupted"}),
    )
