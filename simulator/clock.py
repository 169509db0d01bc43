"""The simulated account's now: real time, or a frozen clock that tests step."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

# A running clock may lag the real one by a few milliseconds of float error, never lead it.
_LEEWAY = 0.001


class Clock:
    """The account's now, in epoch seconds.

    ``speed`` is 1 (the default: follow real time) or 0 (frozen, what tests
    want; ``advance`` steps it). It is never faster than real time: the
    account must never report a time later than the real now, so demo speed
    accelerates the jobs instead (``pace.py``). A running clock reads the
    wall clock (``time.time``) and never goes backwards, even if the wall
    clock is stepped back.
    """

    def __init__(self, start: datetime | None = None, speed: float = 1.0) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._check(speed)
        real = time.time()
        if speed and start is not None and start.timestamp() > real + _LEEWAY:
            raise ValueError("a running clock cannot start in the future")
        self._lock = threading.Lock()
        self._anchor_sim = start.timestamp() if start is not None else real
        self._anchor_real = real
        self._speed = float(speed)
        self._last = self._anchor_sim

    @staticmethod
    def _check(speed: float) -> None:
        if speed not in (0, 1):
            raise ValueError(
                f"clock speed {speed:g}: a clock is frozen (0) or follows real time (1); "
                "SimulatedSageMaker(speed=...) makes jobs faster instead"
            )

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        self._check(value)
        with self._lock:
            self._anchor_sim = self._now_unlocked()
            self._anchor_real = time.time()
            self._speed = float(value)

    def _now_unlocked(self) -> float:
        now = self._anchor_sim + (time.time() - self._anchor_real) * self._speed
        self._last = max(self._last, now)
        return self._last

    def timestamp(self) -> float:
        """The account's now as epoch seconds."""
        with self._lock:
            return self._now_unlocked()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def advance(self, seconds: float) -> None:
        """Step a frozen clock (a running one follows real time and cannot be pushed ahead of it)."""
        if seconds < 0:
            raise ValueError("simulated time never goes backwards")
        if self._speed:
            raise ValueError("only a frozen clock (speed 0) can be advanced")
        with self._lock:
            self._anchor_sim += seconds
