"""The population of training jobs: who exists when, and each job's plan.

Everything is a pure function of (seed, epoch, pace, job index), so
100,000 jobs cost only what is looked at. Job ``i`` is created in the
``i``-th slot of a steady arrival schedule that starts ``history`` seconds
before the epoch and keeps going, so creation time grows with the index:
sorting by CreationTime is sorting by index, and "how many jobs exist at t"
is arithmetic. Plans are made in plan time with realistic durations and
handed out in real time through the account's ``Pace`` (``pace.py``), which
is what makes jobs arrive and run faster at demo speed.
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
from .pace import Pace
from .rand import fields, key, key3, mix, unit3

DAY = 86400.0
DEFAULT_HISTORY = 14 * DAY
# Upper bound on creation -> last change (terminal + warm pool). Lets
# LastModifiedTime filters be turned into a creation-time (index) range.
MAX_LIFE = 4 * DAY
TUNING_BLOCK = 20  # consecutive jobs launched by one tuning job
TUNING_SHARE = 0.10  # share of TUNING_BLOCKs launched by a tuning job
# Warm pool reuse pairs an owner i with the reuser i + K, K a lane of the arrival schedule, so both
# sides find each other with a few hashes and no scan. Owners are drawn at this rate; a pair holds
# only if the two jobs are of one family outside tuning jobs, so about 2% of jobs end up in each role.
WARM_OWNER_SHARE = 0.12
WARM_LANES = (2700.0, 6300.0, 12600.0)  # owner's creation -> reuser's creation, seconds
WARM_LANE_LIMIT = 20 * 3600.0  # keeps an owner's life well inside MAX_LIFE on sparse schedules
PREFERENCE_SHARE = 0.04  # jobs giving InstancePreferences (on-demand, homogeneous only)
MAX_WAIT_SHARE = 0.08  # managed-spot jobs that end MaxWaitTimeExceeded
# One job in LONG_HAUL_EVERY is a long managed-spot job interrupted LONG_HAUL_BREAKS times:
# 5 + 6 x (Training, Interrupted, 5 start-up steps) + Training, Uploading, Completed = 50 transitions,
# the detail page's benchmark case (bench/pages.py).
LONG_HAUL_EVERY = 1000
LONG_HAUL_BREAKS = 6
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
    # InstancePreferences as (type, count or None when ResourceConfig.InstanceCount applies to all);
    # instance_type/instance_count are then the selected preference.
    preferences: tuple[tuple[str, int | None], ...]
    warm_from: int | None  # index of the job whose warm pool this job reuses
    reused_by: int | None  # index of the job that reuses this job's warm pool
    reuse_at: float | None  # when that job took the pool over (its creation)
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

    def __init__(
        self, seed: int, jobs: int, start_ts: float, history: float = DEFAULT_HISTORY, pace: Pace | None = None
    ) -> None:
        """``jobs`` jobs exist at ``start_ts`` (the account's epoch), spread over the ``history`` before it."""
        self.seed = seed
        self.pace = pace if pace is not None else Pace()
        self.origin = self.pace.to_plan(start_ts) - history  # in plan time
        # jobs=0 means an empty account that never grows.
        self.interval = history / jobs if jobs > 0 else math.inf
        self._lock = threading.Lock()
        self._names: list[str] = []
        self._index: dict[str, int] = {}
        self._hex_mask = key(seed, 5) & 0xFFFFFFFF
        self._warm_salt = key(seed, 10)
        lanes = {max(1, round(span / self.interval)) for span in WARM_LANES} if jobs > 0 else set()
        self._lanes = tuple(sorted(k for k in lanes if k * self.interval <= WARM_LANE_LIMIT))
        self.plan = lru_cache(maxsize=16384)(self._build_plan)

    # --- arrival schedule -------------------------------------------------
    def plan_creation(self, i: int) -> float:
        """Job i's creation in plan time."""
        jitter = 0.05 + 0.9 * unit3(self.seed, i, 1)
        return round(self.origin + (i + jitter) * self.interval, 3)

    def creation(self, i: int) -> float:
        """Job i's creation in real time (what the API reports)."""
        if self.pace.identity:
            return self.plan_creation(i)
        return round(self.pace.to_real(self.plan_creation(i)), 3)

    def _slot(self, ts: float) -> int | None:
        """The arrival slot real time ``ts`` falls in; job k is created inside slot k, well clear of its edges."""
        if self.interval == math.inf:
            return None
        tau = self.pace.to_plan(ts)
        if tau < self.origin:
            return None
        return int((tau - self.origin) // self.interval)

    def count_at(self, ts: float) -> int:
        """Number of jobs created at or before ``ts``."""
        k = self._slot(ts)
        if k is None:
            return 0
        return k + 1 if self.creation(k) <= ts else k

    def first_created_after(self, ts: float) -> int:
        """Smallest index whose creation time is > ts."""
        k = self._slot(ts)
        if k is None:
            return 0
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
        # Computed when not indexed yet, so walking a million jobs (bench.generate) keeps no name table.
        return self._names[i] if i < len(self._names) else self._identity(i)[0]

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
        if unit3(self.seed, block, 2) < TUNING_SHARE:
            family = _weighted(unit3(self.seed, block, 3), texts.FAMILY_WEIGHTS[:-1])
            started = datetime.fromtimestamp(self.creation(block * TUNING_BLOCK), UTC)
            short = texts.FAMILIES[family][0].split("-")[0][:10]
            tuner = f"{short}-hpo-{started:%y%m%d-%H%M}-{block % 1000:03d}"
            suffix = ((i * _HEX_MULT) ^ self._hex_mask) & 0xFFFFFFFF
            return f"{tuner}-{i % TUNING_BLOCK + 1:03d}-{suffix:08x}", family, tuner
        family = _weighted(unit3(self.seed, i, 4), texts.FAMILY_WEIGHTS)
        created = self.creation(i)
        stamp = datetime.fromtimestamp(created, UTC)
        ms = round(created * 1000) % 1000
        return f"{texts.FAMILIES[family][0]}-{stamp:%Y-%m-%d-%H-%M-%S}-{ms:03d}", family, None

    def _solo_family(self, i: int) -> str | None:
        """The family of a job not launched by a tuning job (None for tuning jobs), from hashes only."""
        if unit3(self.seed, i // TUNING_BLOCK, 2) < TUNING_SHARE:
            return None
        return _weighted(unit3(self.seed, i, 4), texts.FAMILY_WEIGHTS)

    # --- warm pool pairs --------------------------------------------------------
    def _warm_draw(self, i: int) -> int:
        # One splitmix64 round over a salted index: every plan looks at four of these.
        return mix(self._warm_salt ^ i)

    def _pair_target(self, i: int) -> int | None:
        """The job that would reuse job i's warm pool, before the owner's timeline is checked."""
        if not self._lanes:
            return None
        draw = self._warm_draw(i)
        if fields(draw, 0) >= WARM_OWNER_SHARE:
            return None
        family = self._solo_family(i)
        if family is None:
            return None
        j = i + self._lanes[int(fields(draw, 1) * len(self._lanes))]
        # An owner never reuses, so a chain never forms and no lookup recurses.
        if fields(self._warm_draw(j), 0) < WARM_OWNER_SHARE or self._solo_family(j) != family:
            return None
        return j

    def warm_source(self, j: int) -> int | None:
        """The candidate owner whose pool job j would reuse (the shortest lane wins a tie)."""
        for k in self._lanes:
            if j - k >= 0 and self._pair_target(j - k) == j:
                return j - k
        return None

    # --- plans --------------------------------------------------------------
    def _build_plan(self, i: int) -> JobPlan:
        name, family, tuner = self._identity(i)
        created = self.plan_creation(i)  # the plan is made in plan time, handed out in real time
        rng = Random(key3(self.seed, i, 6))
        # Warm pool pairs: the reuser needs the owner's plan (did its life fit before the reuser
        # arrived?); the owner needs only the reuser's creation time, so this never recurses.
        warm_from = self.warm_source(i)
        if warm_from is not None and self.plan(warm_from).reused_by != i:
            warm_from = None
        owns = self._pair_target(i)
        if owns is not None and self.warm_source(owns) != i:
            owns = None
        pair = warm_from if warm_from is not None else i if owns is not None else None

        # Jobs of one tuning job share their hardware; so do the two jobs of a warm pool pair.
        hw = Random(key3(self.seed, i // TUNING_BLOCK, 7)) if tuner else rng
        groups: tuple[tuple[str, str, int], ...] = ()
        pool_keep_alive = None
        if pair is not None:
            pool = Random(key3(self.seed, pair, 9))
            itype = _weighted(pool.random(), texts.INSTANCE_TYPES)
            count = 1 if pool.random() < 0.75 else pool.randint(2, 8)
            pool_keep_alive = pool.choice((600, 1800, 3600))
        elif hw.random() < 0.05:
            gpu = hw.choice(("ml.p3.2xlarge", "ml.g5.2xlarge", "ml.p4d.24xlarge"))
            groups = (("train-gpu", gpu, hw.randint(1, 4)), ("data-cpu", "ml.c5.2xlarge", hw.randint(1, 4)))
            itype, count = gpu, sum(g[2] for g in groups)
        else:
            itype = _weighted(hw.random(), texts.INSTANCE_TYPES)
            count = 1 if hw.random() < 0.75 else hw.randint(2, 8)
        # Warm pools do not work with managed spot.
        long_haul = pair is None and i % LONG_HAUL_EVERY == LONG_HAUL_EVERY // 2
        spot = long_haul or (rng.random() < 0.2 and pair is None)
        max_runtime = rng.choice((86400, 86400, 86400, 14400, 43200, 172800))
        keep_alive = rng.choice((600, 1800, 3600)) if not spot and rng.random() < 0.15 else None
        if pool_keep_alive is not None:
            keep_alive = pool_keep_alive
        retry_attempts = rng.choice((1, 2, 3)) if rng.random() < 0.12 else None

        # InstancePreferences exclude InstanceType, InstanceGroups and managed spot.
        preferences: tuple[tuple[str, int | None], ...] = ()
        chosen = 0
        # Draws added after the original streams come from two hashes (four 16-bit uniforms each),
        # so older kinds of jobs keep their plans and building stays cheap.
        traits = key3(self.seed, i, 10)
        extra = key3(self.seed, i, 11) if spot or fields(traits, 2) < PREFERENCE_SHARE else 0
        if not (tuner or spot or groups or keep_alive) and fields(traits, 2) < PREFERENCE_SHARE:
            preferences = texts.PREFERENCE_LADDERS[int(fields(traits, 3) * len(texts.PREFERENCE_LADDERS))]
            u = fields(extra, 0)
            chosen = min(len(preferences) - 1, 0 if u < 0.6 else 1 if u < 0.9 else 2)
            itype = preferences[chosen][0]
            count = preferences[chosen][1] or count

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
        max_wait = None
        if spot:
            max_wait = max_runtime + (3600, 7200, 86400)[int(fields(extra, 1) * 3)]
            if fields(extra, 2) < MAX_WAIT_SHARE:
                # Half never get spot capacity at all, half lose it and never get it back.
                outcome = "max_wait_never" if fields(extra, 3) < 0.5 else "max_wait_lost"
                fail_kind = None
        if owns is not None or long_haul:
            outcome, fail_kind = "completed", None
        if warm_from is not None and fail_kind in ("resource_limit", "capacity", "bad_image"):
            fail_kind = "algorithm"  # the pool's instances and image are already there

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
            if first and warm_from is not None:
                # A reused warm pool skips provisioning: the job starts within a minute.
                add("Starting", rng.uniform(10, 45), texts.MSG["StartingWarmPool"])
                if fail_kind == "s3_denied":
                    fail("Downloading", rng.uniform(20, 120))
                    return False
                add("Downloading", rng.uniform(30, 300))
                add("DownloadingTrainingImage", rng.uniform(5, 30))
                return True
            if first and fail_kind == "resource_limit":
                fail("Starting", rng.uniform(5, 40))
                return False
            add("Starting", rng.uniform(60, 300))
            if rng.random() < 0.05 and not long_haul:
                add("Pending", rng.uniform(300, 1800))
            if first and fail_kind == "capacity":
                fail("LaunchingMLInstances", rng.uniform(600, 2400), texts.MSG["LaunchingMLInstancesRetry"])
                return False
            retrying = rng.random() < 0.1
            if first and chosen:
                message = texts.MSG["LaunchingMLInstancesNextPreference"].format(itype=preferences[0][0])
                add("LaunchingMLInstances", rng.uniform(300, 900), message)
            else:
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

        def max_wait_exceeded() -> None:
            add("Stopping", rng.uniform(30, 90), texts.MSG["MaxWaitTimeExceeded"])
            add("MaxWaitTimeExceeded", 0)

        reused_by = reuse_at = None
        if outcome == "max_wait_never" and max_wait is not None:
            add("Starting", rng.uniform(60, 300))
            add("LaunchingMLInstances", created + max_wait - t, texts.MSG["SpotCapacityWait"])
            max_wait_exceeded()
        elif prefix(True):
            # Billing starts when the instances start downloading data.
            training_start = next(e.start for e in events if e.status == "Downloading")
            total = min(max(600.0, math.exp(rng.gauss(math.log(3600), 1.2))), 0.85 * max_runtime - 1200)
            if owns is not None and keep_alive:
                # The owner's life is cut to end shortly before its reuser arrives.
                upload = rng.uniform(60, 300)
                end = self.plan_creation(owns) - rng.uniform(60, 0.8 * keep_alive)
                fits = end - upload - t >= 300 and end - training_start <= 0.85 * max_runtime
                if fits:
                    add("Training", end - upload - t)
                    add("Uploading", upload)
                    add("Completed", 0)
                    reused_by, reuse_at = owns, self.creation(owns)
            if reused_by is not None:
                pass
            elif outcome == "max_wait_lost" and max_wait is not None:
                add("Training", total * rng.uniform(0.2, 0.9))
                add("Interrupted", max(60.0, created + max_wait - t))
                max_wait_exceeded()
            else:
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
                if long_haul:
                    breaks = ["Interrupted"] * LONG_HAUL_BREAKS
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
        stop_delay = rng.uniform(60, 120)
        spot_ratio = rng.uniform(0.3, 0.7)

        # Plan time -> real time. Durations the job is configured with are mapped too, from where
        # they start, so MaxRuntime is reached at 100 % and a warm pool lives its KeepAlive period.
        pace = self.pace
        if not pace.identity:

            def real(tau: float) -> float:
                return round(pace.to_real(tau), 3)

            def span(tau: float, seconds: float) -> int:
                return max(1, round(pace.real_span(tau, seconds)))

            terminal = events[-1].start
            training_from = next((e.start for e in events if e.status == "Downloading"), created)
            mapped_runtime = span(training_from, max_runtime)
            if max_wait is not None:
                max_wait = max(mapped_runtime, span(created, max_wait))
            max_runtime = mapped_runtime
            if keep_alive:
                keep_alive = span(terminal, keep_alive)
                if warm_from is not None:
                    keep_alive = self.plan(warm_from).keep_alive or keep_alive  # one pool, one period
            stop_delay = float(span(planned_stop if planned_stop is not None else terminal, stop_delay))
            events = [Event(e.status, real(e.start), e.message) for e in events]
            planned_stop = real(planned_stop) if planned_stop is not None else None
        return JobPlan(
            index=i,
            name=name,
            creation=self.creation(i),
            family=family,
            tuner=tuner,
            instance_type=itype,
            instance_count=count,
            instance_groups=groups,
            spot=spot,
            max_runtime=max_runtime,
            max_wait=max_wait,
            keep_alive=keep_alive,
            retry_attempts=retry_attempts,
            preferences=preferences,
            warm_from=warm_from,
            reused_by=reused_by,
            reuse_at=reuse_at,
            fail_kind=fail_kind,
            events=tuple(events),
            planned_stop=planned_stop,
            stop_delay=stop_delay,
            spot_ratio=spot_ratio,
        )
