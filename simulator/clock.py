"""Simulated time: a real-time-driven clock that tests can freeze and step."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    """Simulated wall clock.

    ``speed`` is simulated seconds per real second (0 freezes time, which is
    what tests want); ``advance`` jumps forward explicitly. Re-anchoring on
    every speed change keeps simulated time continuous.
    """

    def __init__(self, start: datetime | None = None, speed: float = 1.0) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._lock = threading.Lock()
        self._anchor_sim = (start or datetime.now(UTC)).timestamp()
        self._anchor_real = time.monotonic()
        self._speed = float(speed)

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        with self._lock:
            self._anchor_sim = self._now_unlocked()
            self._anchor_real = time.monotonic()
            self._speed = float(value)

    def _now_unlocked(self) -> float:
        return self._anchor_sim + (time.monotonic() - self._anchor_real) * self._speed

    def timestamp(self) -> float:
        """Simulated now as epoch seconds."""
        with self._lock:
            return self._now_unlocked()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("simulated time never goes backwards")
        with self._lock:
            self._anchor_sim += seconds
