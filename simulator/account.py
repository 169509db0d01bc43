"""The simulated account: population + clock + what API calls changed."""

from __future__ import annotations

import threading
from typing import Any

from .clock import Clock
from .pace import Pace
from .population import Event, JobPlan, Population
from .render import Renderer
from .timeline import State, effective_events, state_at


class ApiError(Exception):
    """An AWS-shaped error: ``__type`` code, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def not_found() -> ApiError:
    # AWS answers unknown training jobs with a ValidationException, not ResourceNotFound.
    return ApiError("ValidationException", "Requested resource not found.")


class Account:
    def __init__(
        self,
        *,
        jobs: int,
        seed: int,
        clock: Clock,
        region: str,
        account_id: str,
        epoch: float | None = None,
        pace: Pace | None = None,
    ) -> None:
        """``jobs`` jobs exist at ``epoch`` (default: the clock's now); ``pace`` maps their plans to real time."""
        self.clock = clock
        self.region = region
        self.account_id = account_id
        self.epoch = clock.timestamp() if epoch is None else epoch
        self.population = Population(seed, jobs, self.epoch, pace=pace)
        self.renderer = Renderer(self.population, region, account_id)
        self._lock = threading.Lock()
        self._stops: dict[int, float] = {}
        # States that can no longer change, so filters over 100k jobs stay cheap after the first scan.
        self._settled: dict[int, State] = {}

    def count(self, t: float) -> int:
        return self.population.count_at(t)

    def events(self, i: int) -> tuple[JobPlan, tuple[Event, ...]]:
        plan = self.population.plan(i)
        return plan, effective_events(plan, self._stops.get(i))

    def state(self, i: int, t: float) -> State:
        cached = self._settled.get(i)
        if cached is not None and cached.settled_at <= t:
            return cached
        plan, events = self.events(i)
        st = state_at(plan, events, t)
        if st.settled_at <= t:
            self._settled[i] = st
        return st

    def lookup(self, name: str, t: float) -> int:
        i = self.population.index_of(name, t)
        if i is None:
            raise not_found()
        return i

    def describe(self, i: int, t: float) -> dict[str, Any]:
        plan, events = self.events(i)
        return self.renderer.describe(plan, events, state_at(plan, events, t))

    def summary(self, i: int, t: float) -> dict[str, Any]:
        return self.renderer.summary(self.population.plan(i), self.state(i, t))

    def stop(self, i: int, t: float) -> None:
        with self._lock:
            st = self.state(i, t)
            if st.status in ("Completed", "Failed", "Stopped"):
                raise ApiError(
                    "ValidationException",
                    f"The request was rejected because the training job is in status {st.status}.",
                )
            if st.status == "Stopping":
                return  # already on its way down; AWS accepts the repeat
            self._stops[i] = t
            self._settled.pop(i, None)
