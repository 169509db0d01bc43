"""The population of training jobs: who exists when, and each job's plan.

Everything is a pure function of (seed, job index), so 100,000 jobs cost
only what is looked at. Job ``i`` is created in the ``i``-th slot of a
steady arrival schedule that starts ``history`` seconds before the
simulated start and keeps going, so creation time grows with the index:
sorting by CreationTime is sorting by index, and "how many jobs exist at t"
is arithmetic.
"""

from __future__ import annotations

import bisect
import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from random import Random
from typing import NamedTuple

from . import texts
from .rand import key, unit

DAY = 86400.0
DEFAULT_HISTORY = 14 * DAY
# Upper bound on creation -> last change (terminal + warm pool). Lets
# LastModifiedTime filters be turned into a creation-time (index) range.
MAX_LIFE = 4 * DAY
TUNING_BLOCK = 20  # consecutive jobs launched by one tuning job
_HEX_MULT = 2654435761  # odd, so i -> i*K mod 2**32 is a bijection: unique tuning-job names


class Event(NamedTuple):
    """One SecondaryStatusTransition as planned (EndTime is the next start)."""

    status: str
    start: float
    message: str


@dataclass(frozen=True, slots=True)
class JobPlan:
    index: int
    name: str
    creation: float
    family: str
    tuner: str | None  # hyperparameter tuning job name, if launched by one
    instance_type: str
    instance_count: int
    instance_groups: tuple[tuple[str, str, int], ...]  # (group name, type, count); empty if homogeneous
    spot: bool
    max_runtime: int
    max_wait: int | None
    keep_alive: int | None  # warm pool KeepAlivePeriodInSeconds
    retry_attempts: int | None
    fail_kind: str | None  # set when the natural timeline ends in Failed
    events: tuple[Event, ...]  # natural timeline, last event terminal
    planned_stop: float | None  # a user StopTrainingJob that this plan includes
    stop_delay: float  # Stopping -> Stopped
    spot_ratio: float  # billable / running for managed spot

    @property
    def starts(self) -> tuple[float, ...]:
        return tuple(e.start for e in self.events)


def _weighted(r: float, pairs: tuple[tuple[str, int], ...] | tuple[tuple[str, int, bool], ...]) -> str:
    """Pick from (value, weight, ...) pairs with r uniform in [0, 1)."""
    r *= sum(p[1] for p in pairs)
    for p in pairs:
        r -= p[1]
        if r < 0:
            return p[0]
    return pairs[-1][0]


class Population:
    """Deterministic, lazily materialized set of jobs for one seed."""

    def __init__(self, seed: int, jobs: int, start_ts: float, history: float = DEFAULT_HISTORY) -> None:
        self.seed = seed
        self.origin = start_ts - history
        # jobs=0 means an empty account that never grows.
        self.interval = history / jobs if jobs > 0 else math.inf
        self._lock = threading.Lock()
        self._names: list[str] = []
        self._index: dict[str, int] = {}
        self._hex_mask = key(seed, 5) & 0xFFFFFFFF
        self.plan = lru_cache(maxsize=16384)(self._build_plan)
        self.ensure(jobs)

    # --- arrival schedule -------------------------------------------------
    def creation(self, i: int) -> float:
        jitter = 0.05 + 0.9 * unit(self.seed, i, 1)
        return round(self.origin + (i + jitter) * self.interval, 3)

    def count_at(self, ts: float) -> int:
        """Number of jobs created at or before ``ts``."""
        if self.interval == math.inf or ts < self.origin:
            return 0
        k = int((ts - self.origin) // self.interval)
        return k + 1 if self.creation(k) <= ts else k

    def first_created_after(self, ts: float) -> int:
        """Smallest index whose creation time is > ts."""
        if self.interval == math.inf:
            return 0
        if ts < self.origin:
            return 0
        k = int((ts - self.origin) // self.interval)
        return k if self.creation(k) > ts else k + 1

    # --- names --------------------------------------------------------------
    def ensure(self, count: int) -> None:
        if count <= len(self._names):
            return
        with self._lock:
            for i in range(len(self._names), count):
                name = self._identity(i)[0]
                self._names.append(name)
                self._index[name] = i

    def name(self, i: int) -> str:
        self.ensure(i + 1)
        return self._names[i]

    def index_of(self, name: str, now_ts: float) -> int | None:
        self.ensure(self.count_at(now_ts))
        i = self._index.get(name)
        if i is None or i >= self.count_at(now_ts):
            return None
        return i

    def names_sorted(self, count: int) -> list[tuple[str, int]]:
        """(name, index) for the first ``count`` jobs, in name order."""
        self.ensure(count)
        cache = getattr(self, "_sorted", None)
        if cache is None or cache[0] > count:
            pairs = sorted((self._names[i], i) for i in range(count))
            self._sorted = (count, pairs)
        elif cache[0] < count:
            pairs = list(cache[1])
            for i in range(cache[0], count):
                bisect.insort(pairs, (self._names[i], i))
            self._sorted = (count, pairs)
        return self._sorted[1]

    def _identity(self, i: int) -> tuple[str, str, str | None]:
        """(name, family, tuning job name) without building the whole plan."""
        block = i // TUNING_BLOCK
        if unit(self.seed, block, 2) < 0.10:
            family = _weighted(unit(self.seed, block, 3), texts.FAMILY_WEIGHTS[:-1])
            started = datetime.fromtimestamp(self.creation(block * TUNING_BLOCK), UTC)
            short = texts.FAMILIES[family][0].split("-")[0][:10]
            tuner = f"{short}-hpo-{started:%y%m%d-%H%M}-{block % 1000:03d}"
            suffix = ((i * _HEX_MULT) ^ self._hex_mask) & 0xFFFFFFFF
            return f"{tuner}-{i % TUNING_BLOCK + 1:03d}-{suffix:08x}", family, tuner
        family = _weighted(unit(self.seed, i, 4), texts.FAMILY_WEIGHTS)
        created = self.creation(i)
        stamp = datetime.fromtimestamp(created, UTC)
        ms = round(created * 1000) % 1000
        return f"{texts.FAMILIES[family][0]}-{stamp:%Y-%m-%d-%H-%M-%S}-{ms:03d}", family, None

    # --- plans --------------------------------------------------------------
    def _build_plan(self, i: int) -> JobPlan:
        name, family, tuner = self._identity(i)
        rng = Random(key(self.seed, i, 6))
        # Jobs of one tuning job share their hardware.
        hw = Random(key(self.seed, i // TUNING_BLOCK, 7)) if tuner else rng
        groups: tuple[tuple[str, str, int], ...] = ()
        if hw.random() < 0.05:
            gpu = hw.choice(("ml.p3.2xlarge", "ml.g5.2xlarge", "ml.p4d.24xlarge"))
            groups = (("train-gpu", gpu, hw.randint(1, 4)), ("data-cpu", "ml.c5.2xlarge", hw.randint(1, 4)))
            itype, count = gpu, sum(g[2] for g in groups)
        else:
            itype = _weighted(hw.random(), texts.INSTANCE_TYPES)
            count = 1 if hw.random() < 0.75 else hw.randint(2, 8)
        spot = rng.random() < 0.2
        max_runtime = rng.choice((86400, 86400, 86400, 14400, 43200, 172800))
        keep_alive = rng.choice((600, 1800, 3600)) if not spot and rng.random() < 0.15 else None
        retry_attempts = rng.choice((1, 2, 3)) if rng.random() < 0.12 else None

        r = rng.random()
        outcome = "completed" if r < 0.64 else "failed" if r < 0.84 else "stopped" if r < 0.94 else "max_runtime"
        fail_kind = None
        if outcome == "failed":
            fail_kind = _weighted(
                rng.random(),
                (
                    ("resource_limit", 10),
                    ("capacity", 15),
                    ("s3_denied", 20),
                    ("bad_image", 10),
                    ("algorithm", 38),
                    ("internal", 7),
                ),
            )
        if outcome == "max_runtime" and spot:
            outcome = "completed"

        created = self.creation(i)
        events: list[Event] = []
        t = created

        def add(status: str, duration: float, message: str | None = None) -> None:
            nonlocal t
            events.append(Event(status, round(t, 3), message or texts.MSG[status]))
            t += duration

        def fail(status: str, duration: float, message: str | None = None) -> None:
            add(status, duration, message)
            add("Failed", 0)

        def prefix(first: bool) -> bool:
            """Starting .. DownloadingTrainingImage; False if the job failed there."""
            if first and fail_kind == "resource_limit":
                fail("Starting", rng.uniform(5, 40))
                return False
            add("Starting", rng.uniform(60, 300))
            if rng.random() < 0.05:
                add("Pending", rng.uniform(300, 1800))
            if first and fail_kind == "capacity":
                fail("LaunchingMLInstances", rng.uniform(600, 2400), texts.MSG["LaunchingMLInstancesRetry"])
                return False
            retrying = rng.random() < 0.1
            add(
                "LaunchingMLInstances",
                rng.uniform(300, 900) if retrying else rng.uniform(60, 240),
                texts.MSG["LaunchingMLInstancesRetry"] if retrying else None,
            )
            add("PreparingTrainingStack", rng.uniform(30, 180))
            if first and fail_kind == "s3_denied":
                fail("Downloading", rng.uniform(20, 120))
                return False
            add("Downloading", rng.uniform(60, 600))
            if first and fail_kind == "bad_image":
                fail("DownloadingTrainingImage", rng.uniform(20, 90))
                return False
            add("DownloadingTrainingImage", rng.uniform(60, 600))
            return True

        if prefix(True):
            # Billing starts when the instances start downloading data.
            training_start = next(e.start for e in events if e.status == "Downloading")
            total = min(max(600.0, math.exp(rng.gauss(math.log(3600), 1.2))), 0.85 * max_runtime - 1200)
            breaks: list[str] = []
            if spot:
                breaks += ["Interrupted"] * rng.choice((0, 1, 1, 2))
            if retry_attempts:
                if fail_kind == "internal":
                    breaks += ["Restarting"] * retry_attempts
                elif rng.random() < 0.4:
                    breaks += ["Restarting"] * rng.randint(1, retry_attempts)
            if outcome == "max_runtime":
                breaks = []
            rng.shuffle(breaks)
            segment = total / (len(breaks) + 1)
            for k, brk in enumerate(breaks):
                add("Training", segment, texts.MSG["Training"] if k == 0 else texts.MSG["TrainingResumed"])
                if brk == "Interrupted":
                    add("Interrupted", rng.uniform(120, 1800))
                else:
                    add("Restarting", rng.uniform(30, 120))
                prefix(False)
            resumed = texts.MSG["TrainingResumed"] if breaks else texts.MSG["Training"]
            if outcome == "max_runtime":
                add("Training", training_start + max_runtime - t, resumed)
                add("Stopping", rng.uniform(30, 90), texts.MSG["MaxRuntimeExceeded"])
                add("MaxRuntimeExceeded", 0)
            elif fail_kind in ("algorithm", "internal"):
                fail("Training", segment * rng.uniform(0.05, 0.95))
            else:
                add("Training", segment, resumed)
                add("Uploading", rng.uniform(60, 300))
                add("Completed", 0)

        planned_stop = None
        if outcome == "stopped":
            planned_stop = round(created + rng.uniform(0.02, 0.95) * (events[-1].start - created), 3)
        return JobPlan(
            index=i,
            name=name,
            creation=created,
            family=family,
            tuner=tuner,
            instance_type=itype,
            instance_count=count,
            instance_groups=groups,
            spot=spot,
            max_runtime=max_runtime,
            max_wait=max_runtime + rng.choice((3600, 7200, 86400)) if spot else None,
            keep_alive=keep_alive,
            retry_attempts=retry_attempts,
            fail_kind=fail_kind,
            events=tuple(events),
            planned_stop=planned_stop,
            stop_delay=rng.uniform(60, 120),
            spot_ratio=rng.uniform(0.3, 0.7),
        )
