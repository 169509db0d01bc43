"""SimulatedSageMaker: the one object tests and scripts hold."""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from datetime import datetime
from http.server import ThreadingHTTPServer
from typing import Any

from .account import Account
from .clock import Clock
from .faults import FaultInjector, Faults
from .pace import Pace
from .render import to_datetimes
from .server import Dispatcher, Stats, make_server
from .sqs import EventQueue, queue_of, queue_url


class SimulatedSageMaker:
    """A simulated SageMaker account served over HTTP on loopback.

    ``speed`` is how many times faster than in reality jobs arrive and run
    from the account's ``epoch`` on (1 = real pace); the account's clock is
    never sped up, so it never reports a time later than the real now. 0,
    the default, is short for what most tests want: a frozen clock at
    ``start`` (``sim.clock.advance`` steps it) and jobs at real pace. A
    test can also hand in its own ``clock`` (e.g. a frozen one) with any
    speed.

    ``epoch`` is when the account had ``jobs`` jobs (default: the clock's
    now); the population is a pure function of (seed, jobs, epoch, pace
    changes) and the time, so an account rebuilt with the same ones later
    shows the same jobs (``state.py`` keeps them across restarts).
    ``pace`` lists (real time, speed) changes and defaults to ``speed``
    from the epoch on.

    ``filter_after_page=True`` mimics AWS's ListTrainingJobs quirk (filters
    applied after the page is cut, so pages can be empty yet carry a token).
    """

    def __init__(
        self,
        jobs: int = 200,
        seed: int = 7,
        speed: float = 0.0,
        faults: Faults | None = None,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        host: str = "127.0.0.1",
        port: int = 0,
        start: datetime | None = None,
        filter_after_page: bool = False,
        *,
        clock: Clock | None = None,
        epoch: float | None = None,
        pace: Sequence[tuple[float, float]] | None = None,
    ) -> None:
        if speed and speed < 1:
            raise ValueError(f"speed {speed:g}: jobs run at real pace (1) or faster, or 0 for a frozen clock")
        if clock is not None and start is not None:
            raise ValueError("give either a clock or a start, not both")
        self.clock = clock if clock is not None else Clock(start=start, speed=0 if speed == 0 else 1)
        if epoch is None:
            epoch = self.clock.timestamp()
        if pace is None:
            pace = [(epoch, speed)] if speed > 1 else []
        self.pace = Pace(pace)
        self.epoch = epoch
        self.faults = faults if faults is not None else Faults()
        self.filter_after_page = filter_after_page
        self.host, self.port = host, port
        self.account = Account(
            jobs=jobs,
            seed=seed,
            clock=self.clock,
            region=region,
            account_id=account_id,
            epoch=epoch,
            pace=self.pace,
        )
        self._stats = Stats()
        self._injector = FaultInjector(self.faults, seed)
        self._dispatcher = Dispatcher(self.account, self._injector, self._stats, lambda: self.filter_after_page)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------
    def start(self) -> SimulatedSageMaker:
        if self._server is None:
            self._server = make_server(self.host, self.port, self._dispatcher)
            self.port = self._server.server_address[1]
            self.account.endpoint_url = self.endpoint_url  # type: ignore[attr-defined]
            # serve_forever checks for shutdown every poll_interval: at its 0.5 s
            # default, every stop (every test's teardown) waited that long.
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name="simulated-sagemaker",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SimulatedSageMaker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait(self) -> None:
        """Block until the server stops; short joins keep Ctrl-C responsive."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def events_queue(self) -> EventQueue:
        """The SQS queue of the account's state-change events (tests tune its duplicate and reorder rates)."""
        return queue_of(self.account)

    @property
    def events_queue_url(self) -> str:
        return queue_url(self.account)

    # --- faults and stats ----------------------------------------------------------
    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        # Replacing the whole Faults object must reach the injector too.
        self._faults = value
        if hasattr(self, "_injector"):
            self._injector.faults = value

    @property
    def stats(self) -> dict[str, Any]:
        """Snapshot: {"calls": Counter(op -> n), "faults": Counter(kind -> n), "errors": Counter(code -> n),
        "requests": total}. Counters answer 0 for names never seen."""
        return self._stats.snapshot()

    def reset_stats(self) -> None:
        self._stats.reset()

    # --- truth for tests ------------------------------------------------------------
    def job_names(self) -> list[str]:
        """Names of the jobs that exist now, oldest first."""
        count = self.account.count(self.clock.timestamp())
        return [self.account.population.name(i) for i in range(count)]

    def describe(self, name: str) -> dict[str, Any]:
        """What DescribeTrainingJob returns now without faults, as boto3 parses it (aware UTC datetimes)."""
        t = self.clock.timestamp()
        return to_datetimes(copy.deepcopy(self.account.describe(self.account.lookup(name, t), t)))

    def tags(self, name: str) -> list[dict[str, str]]:
        t = self.clock.timestamp()
        return self.account.renderer.tags(self.account.lookup(name, t))
