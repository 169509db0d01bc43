import time
from datetime import UTC, datetime, timedelta

import pytest

from simulator.clock import Clock

START = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


def test_frozen_clock_only_moves_when_advanced() -> None:
    clock = Clock(start=START, speed=0)
    time.sleep(0.01)
    assert clock.now() == START
    clock.advance(600)
    assert clock.now() == START + timedelta(minutes=10)
    assert clock.now().tzinfo is not None


def test_speed_scales_real_time() -> None:
    clock = Clock(start=START, speed=3600)
    time.sleep(0.05)
    elapsed = (clock.now() - START).total_seconds()
    assert 150 <= elapsed <= 3600


def test_changing_speed_keeps_time_continuous() -> None:
    clock = Clock(start=START, speed=1000)
    time.sleep(0.02)
    before = clock.timestamp()
    clock.speed = 0
    assert clock.timestamp() >= before
    frozen = clock.timestamp()
    time.sleep(0.01)
    assert clock.timestamp() == frozen


def test_rejects_naive_start_and_going_backwards() -> None:
    with pytest.raises(ValueError):
        Clock(start=datetime(2025, 1, 1), speed=0)
    with pytest.raises(ValueError):
        Clock(start=START, speed=0).advance(-1)


def test_default_start_is_real_now() -> None:
    before = datetime.now(UTC)
    assert abs((Clock(speed=0).now() - before).total_seconds()) < 5
