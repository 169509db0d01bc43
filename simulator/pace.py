"""How fast the simulated account's jobs live: plan time versus real time.

Jobs are planned with realistic durations (minutes to hours) on a *plan*
time line. A demo wants them faster, but the account must never report a
time later than the real now, so the clock is never sped up; instead plan
time is mapped onto real time. Before the account's epoch the map is the
identity (the history reads like a real account's); from each change on,
plan time runs ``speed`` times faster than real time, so jobs arrive and
move through their phases ``speed`` times faster, at real timestamps.

The map is a pure function of its changes, so an account rebuilt from the
same changes at a later real time shows the same jobs at the same real
times; a restart with another speed appends a change at the restart and
leaves everything before it as it was.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence


class Pace:
    """A monotonic, piecewise-linear map between plan time and real time (epoch seconds)."""

    def __init__(self, changes: Sequence[tuple[float, float]] = ()) -> None:
        """``changes``: (real time, speed from then on), in time order; speeds are at least 1."""
        self.changes = tuple((float(at), float(speed)) for at, speed in changes)
        real: list[float] = []
        plan: list[float] = []
        speeds: list[float] = []
        for at, speed in self.changes:
            if speed < 1:
                raise ValueError(f"speed {speed:g} is below 1: jobs can run faster than in reality, never slower")
            if real and at < real[-1]:
                raise ValueError("pace changes must be in time order")
            plan.append(at if not real else plan[-1] + (at - real[-1]) * speeds[-1])
            real.append(at)
            speeds.append(speed)
        self._real, self._plan, self._speeds = real, plan, speeds
        # The common cases (tests, real pace) skip the arithmetic and keep plan times bit for bit.
        self.identity = all(s == 1 for s in speeds)

    @property
    def speed(self) -> float:
        """The speed in force after the last change."""
        return self._speeds[-1] if self._speeds else 1.0

    def to_plan(self, t: float) -> float:
        if self.identity:
            return t
        k = bisect.bisect_right(self._real, t) - 1
        if k < 0:
            return t
        return self._plan[k] + (t - self._real[k]) * self._speeds[k]

    def to_real(self, tau: float) -> float:
        if self.identity:
            return tau
        k = bisect.bisect_right(self._plan, tau) - 1
        if k < 0:
            return tau
        return self._real[k] + (tau - self._plan[k]) / self._speeds[k]

    def real_span(self, tau: float, seconds: float) -> float:
        """How long ``seconds`` of plan time starting at plan time ``tau`` last in real time."""
        if self.identity:
            return seconds
        return self.to_real(tau + seconds) - self.to_real(tau)
