"""What one job publishes to CloudWatch, minute by minute, computed on request (pure).

Points sit on whole minutes of real time (CloudWatch's 1-minute resolution)
inside the phases that produce them: algorithm metrics while ``Training``,
instance metrics while the instances are up (``curves.ACTIVE``). Nothing is
materialised: asking for a range walks its minutes, and each point is a
hash and a formula, so a 5-day job costs only what is asked of it.
"""

from __future__ import annotations

import bisect
import math
import zlib
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from . import curves, texts
from .population import Event
from .rand import key, unit3

MINUTE = 60


class Span(NamedTuple):
    status: str
    start: float
    end: float


def spans(events: Sequence[Event]) -> tuple[Span, ...]:
    """Each transition with its end (the next one's start); the terminal status has no span."""
    return tuple(Span(e.status, e.start, events[k + 1].start) for k, e in enumerate(events[:-1]))


def minutes(lo: float, hi: float) -> range:
    """Whole minutes m with lo <= m < hi."""
    return range(math.ceil(lo / MINUTE) * MINUTE, math.ceil(hi / MINUTE) * MINUTE, MINUTE)


def hardware(instance_type: str) -> tuple[int, int, int]:
    return texts.HARDWARE.get(instance_type, (4, 0, 16))


def _salt(*parts: str) -> int:
    return zlib.crc32("\0".join(parts).encode())


class JobActivity:
    """The series of one job: its algorithm metrics and each host's utilization.

    ``events`` is the job's effective timeline (a stop cuts it), ``natural``
    its planned one: progress is measured against the planned training time,
    so a stop does not bend the curve it cuts. ``metrics`` are (name, final
    value) pairs; a completed job's last training minute shows exactly the
    final value.
    """

    def __init__(
        self,
        name: str,
        events: Sequence[Event],
        natural: Sequence[Event],
        metrics: Sequence[tuple[str, float]],
        host_types: Sequence[str],
    ) -> None:
        self.name = name
        self.key = key(name) & 0xFFFFFFFFFFFF
        self.spans = spans(events)
        self.completed = events[-1].status == "Completed"
        self.metrics = tuple(metrics)
        self.host_types = tuple(host_types)
        self.training = tuple(s for s in self.spans if s.status == "Training")
        self._train_starts = [s.start for s in self.training]
        self._trained_before: list[float] = []
        done = 0.0
        for s in self.training:
            self._trained_before.append(done)
            done += s.end - s.start
        planned = sum(s.end - s.start for s in spans(natural) if s.status == "Training")
        self.total = max(planned, done, 1.0)
        # Instances are up from PreparingTrainingStack on; a stop keeps them up while they wind down.
        self.active = tuple(
            s
            for k, s in enumerate(self.spans)
            if s.status in curves.ACTIVE
            and (s.status != "Stopping" or (k > 0 and self.spans[k - 1].status in curves.ACTIVE))
        )
        self._curves = {
            n: curves.curve_for(n, final, *(unit3(self.key, _salt(n), -k) for k in (1, 2))) for n, final in metrics
        }
        last = self.training[-1] if self.training else None
        finals = minutes(last.start, last.end) if last else range(0)
        self.final_minute = finals[-1] if self.completed and finals else None
        self.scale = 0.8 + 0.2 * unit3(self.key, 1, -3)
        self.disk_base = 3.0 + 5.0 * unit3(self.key, 2, -3)
        self.disk_full = self.disk_base + 10.0 + 50.0 * unit3(self.key, 3, -3)

    # --- what exists ---------------------------------------------------------
    def hosts(self) -> list[str]:
        return [f"{self.name}/algo-{n}" for n in range(1, len(self.host_types) + 1)]

    def host_metrics(self, host: int) -> tuple[str, ...]:
        """The instance metrics host ``host`` (1-based) publishes: GPU ones only on GPU instances."""
        gpus = hardware(self.host_types[host - 1])[1]
        return tuple(m for m in curves.INSTANCE_METRICS if gpus or not m.startswith("GPU"))

    def first_point(self, kind: str) -> float | None:
        """The first minute with data, for algorithm metrics ("algorithm") or instances ("host")."""
        for s in self.training if kind == "algorithm" else self.active:
            m = minutes(s.start, s.end)
            if m:
                return m[0]
        return None

    def last_point(self, kind: str) -> float | None:
        for s in reversed(self.training if kind == "algorithm" else self.active):
            m = minutes(s.start, s.end)
            if m:
                return m[-1]
        return None

    # --- values ------------------------------------------------------------
    def progress(self, t: float) -> float:
        k = bisect.bisect_right(self._train_starts, t) - 1
        if k < 0:
            return 0.0
        s = self.training[k]
        return min(1.0, (self._trained_before[k] + min(t, s.end) - s.start) / self.total)

    def metric_value(self, name: str, m: int) -> float:
        c = self._curves[name]
        if m == self.final_minute:
            return c.final
        return curves.value_at(c, self.progress(m), unit3(self.key, _salt(name), m // MINUTE))

    def metric_points(self, name: str, lo: float, hi: float) -> Iterator[tuple[int, float]]:
        """(minute, value) of algorithm metric ``name`` for lo <= minute < hi, oldest first."""
        if name not in self._curves:
            return
        for s in self.training:
            if s.end <= lo or s.start >= hi:
                continue
            for m in minutes(max(s.start, lo), min(s.end, hi)):
                yield m, self.metric_value(name, m)

    def host_points(self, host: int, metric: str, lo: float, hi: float) -> Iterator[tuple[int, float]]:
        """(minute, percent) of one instance metric of host ``host`` (1-based) for lo <= minute < hi."""
        if not 1 <= host <= len(self.host_types) or metric not in self.host_metrics(host):
            return
        cpus, gpus, _ = hardware(self.host_types[host - 1])
        capacity = {"CPUUtilization": cpus, "GPUUtilization": gpus, "GPUMemoryUtilization": gpus}.get(metric, 1)
        salt = _salt(metric, str(host))
        for s in self.active:
            if s.end <= lo or s.start >= hi:
                continue
            length = max(s.end - s.start, 1.0)
            for m in minutes(max(s.start, lo), min(s.end, hi)):
                u = unit3(self.key, salt, m // MINUTE)
                if metric == "DiskUtilization":
                    yield m, curves.disk(s.status, (m - s.start) / length, self.disk_base, self.disk_full, u)
                else:
                    yield m, curves.utilization(metric, s.status, capacity, self.scale, u)


def host_types(instance_type: str, count: int, groups: Sequence[tuple[str, str, int]]) -> tuple[str, ...]:
    """The instance type of algo-1..algo-N: groups in their order, else ``count`` of one type."""
    if groups:
        return tuple(t for _, t, c in groups for _ in range(c))
    return (instance_type,) * count
