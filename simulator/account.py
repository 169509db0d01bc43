"""The simulated account: population + clock + what API calls changed."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from . import logtext
from .activity import JobActivity, host_types
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
        # Called with (job, stop time) after a StopTrainingJob lands (the event queue schedules it).
        self.stop_listeners: list[Any] = []
        # States that can no longer change, so filters over 100k jobs stay cheap after the first scan.
        self._settled: dict[int, State] = {}
        self._activity = lru_cache(maxsize=4096)(self._build_activity)
        self._streams = lru_cache(maxsize=512)(self._build_stream)

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
        for listener in self.stop_listeners:
            listener(i, t)

    # --- what the job publishes to CloudWatch and CloudWatch Logs ------------------------
    def activity(self, i: int) -> JobActivity:
        """Job i's metric and utilization series (for its current timeline: a stop changes it)."""
        return self._activity(i, self.events(i)[1])

    def _build_activity(self, i: int, events: tuple[Event, ...]) -> JobActivity:
        plan = self.population.plan(i)
        static = self.renderer.static(i)
        hosts = host_types(plan.instance_type, plan.instance_count, plan.instance_groups)
        return JobActivity(plan.name, events, plan.events, static["metrics"], hosts)

    def log_context(self, i: int) -> logtext.LogContext:
        plan = self.population.plan(i)
        static = self.renderer.static(i)
        d = static["describe"]
        channels = tuple(
            (c["ChannelName"], c["DataSource"]["S3DataSource"]["S3Uri"]) for c in d.get("InputDataConfig", [])
        )
        image = d["AlgorithmSpecification"].get("TrainingImage") or d["AlgorithmSpecification"].get("AlgorithmName", "")
        return logtext.LogContext(
            channels=channels,
            image=image,
            output=d["ModelArtifacts"]["S3ModelArtifacts"],
            epochs=logtext.epochs_of(tuple(d.get("HyperParameters", {}).items())),
            failure=static["failure"] if self.events(i)[1][-1].status == "Failed" else None,
            fail_kind=plan.fail_kind,
        )

    def stream(self, i: int, host: int, attempt: int) -> list[logtext.LogEvent]:
        """Every planned line of one log stream (callers cut it at their now)."""
        return self._streams(i, self.events(i)[1], host, attempt)

    def _build_stream(self, i: int, events: tuple[Event, ...], host: int, attempt: int) -> list[logtext.LogEvent]:
        return logtext.stream_events(self._activity(i, events), self.log_context(i), host, attempt)
