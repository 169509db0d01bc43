from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from simulator.clock import Clock

START = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


def test_frozen_clock_only_moves_when_advanced() -> None:
    with time_machine.travel(START + timedelta(days=1), tick=False) as traveller:
        clock = Clock(start=START, speed=0)
        traveller.shift(3600)
        assert clock.now() == START
        clock.advance(600)
        assert clock.now() == START + timedelta(minutes=10)
        assert clock.now().tzinfo is not None


def test_running_clock_follows_real_time_and_never_leads_it() -> None:
    with time_machine.travel(START, tick=False) as traveller:
        clock = Clock()
        assert clock.now() == START
        traveller.shift(90)
        assert clock.now() == datetime.now(UTC) == START + timedelta(seconds=90)
        # A wall clock stepped back (NTP) does not take the account back in time.
        traveller.move_to(START)
        assert clock.now() == START + timedelta(seconds=90)
        with pytest.raises(ValueError, match="frozen"):
            clock.advance(60)


def test_a_running_clock_is_never_faster_than_real_time_nor_starts_in_the_future() -> None:
    with pytest.raises(ValueError, match="faster"):
        Clock(start=START, speed=30)
    with time_machine.travel(START, tick=False), pytest.raises(ValueError, match="future"):
        Clock(start=START + timedelta(hours=1))


def test_freezing_keeps_time_continuous() -> None:
    with time_machine.travel(START, tick=False) as traveller:
        clock = Clock(start=START - timedelta(hours=1))
        traveller.shift(20)
        clock.speed = 0
        frozen = clock.timestamp()
        assert frozen == (START - timedelta(seconds=3580)).timestamp()
        traveller.shift(20)
        assert clock.timestamp() == frozen


def test_rejects_naive_start_and_going_backwards() -> None:
    with pytest.raises(ValueError):
        Clock(start=datetime(2025, 1, 1), speed=0)
    with pytest.raises(ValueError):
        Clock(start=START, speed=0).advance(-1)


def test_default_start_is_real_now() -> None:
    with time_machine.travel(START, tick=False):
        assert Clock(speed=0).now() == START
