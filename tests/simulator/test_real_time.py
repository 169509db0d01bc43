"""Demo speed accelerates jobs, never the clock; the same account comes back after a restart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import simulator.clock
from simulator import Clock, SimulatedSageMaker
from simulator.cli import add_arguments, build
from simulator.pace import Pace
from simulator.state import StateError, resume

from .conftest import client_for

EPOCH = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
DEMO_SPEED = 30  # the run command's default


class FakeRealTime(SimpleNamespace):
    """Stands in for the ``time`` module the clock reads: the real now is whatever the test says."""

    def __init__(self, start: datetime) -> None:
        super().__init__(now=start.timestamp(), started=start.timestamp())

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now - self.started

    def advance(self, seconds: float) -> None:
        self.now += seconds


def times_in(value: Any, path: str = "") -> Iterator[tuple[str, datetime]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from times_in(v, f"{path}.{k}")
    elif isinstance(value, list):
        for v in value:
            yield from times_in(v, path)
    elif isinstance(value, datetime):
        yield path, value


def responses(client: Any) -> Iterator[dict[str, Any]]:
    """Every page of ListTrainingJobs, the newest Search page, and a describe of every job still changing."""
    changing: list[str] = []
    for page in client.get_paginator("list_training_jobs").paginate(
        SortBy="CreationTime", SortOrder="Descending", PaginationConfig={"PageSize": 100}
    ):
        yield page
        changing += [
            s["TrainingJobName"]
            for s in page["TrainingJobSummaries"]
            if s["TrainingJobStatus"] in ("InProgress", "Stopping") or "WarmPoolStatus" in s
        ]
    yield client.search(Resource="TrainingJob", SortBy="LastModifiedTime", SortOrder="Descending", MaxResults=100)
    for name in changing:
        yield client.describe_training_job(TrainingJobName=name)


def test_at_demo_speed_no_response_has_a_time_later_than_the_real_now(monkeypatch: pytest.MonkeyPatch) -> None:
    real = FakeRealTime(EPOCH)
    monkeypatch.setattr(simulator.clock, "time", real)
    with SimulatedSageMaker(jobs=1000, seed=1, speed=DEMO_SPEED, start=EPOCH) as sim:
        client = client_for(sim)
        newest_first = {"SortOrder": "Descending", "MaxResults": 100}
        first = {s["TrainingJobName"]: s for s in client.list_training_jobs(**newest_first)["TrainingJobSummaries"]}
        for _ in range(10):  # five minutes
            real.advance(30)
            now = datetime.fromtimestamp(real.time(), UTC)
            for body in responses(client):
                late = [(path, t) for path, t in times_in(body) if t > now]
                assert not late, f"{len(late)} times after the real now {now}, e.g. {late[:3]}"
        # Meanwhile the account lived: jobs arrived, and jobs that ran then have since finished.
        newest = client.list_training_jobs(**newest_first)["TrainingJobSummaries"]
        arrived = [s for s in newest if s["CreationTime"] > EPOCH]
        assert len(arrived) >= 3
        ran = [n for n, s in first.items() if s["TrainingJobStatus"] == "InProgress"]
        finished = [n for n in ran if sim.describe(n)["TrainingJobStatus"] in ("Completed", "Failed", "Stopped")]
        assert ran and finished
        assert sim.clock.now() == now


def test_demo_speed_shortens_phases_and_the_configured_limits_with_them() -> None:
    clock = Clock(start=EPOCH, speed=0)
    sim = SimulatedSageMaker(jobs=1000, seed=1, speed=DEMO_SPEED, clock=clock)
    clock.advance(6 * 3600)  # 180 hours of jobs
    new = [sim.describe(n) for n in sim.job_names() if sim.describe(n)["CreationTime"] > EPOCH]
    assert len(new) > 100
    starting = [
        (t["EndTime"] - t["StartTime"]).total_seconds()
        for d in new
        for t in d["SecondaryStatusTransitions"][:1]
        if "EndTime" in t and d["SecondaryStatusTransitions"][1]["Status"] == "LaunchingMLInstances"
    ]
    # Starting takes 1 to 5 minutes in reality: seconds at demo speed.
    assert starting and min(starting) >= 60 / DEMO_SPEED - 0.01 and max(starting) <= 300 / DEMO_SPEED + 0.01
    hit = [d for d in new if d["SecondaryStatus"] == "MaxRuntimeExceeded"]
    assert hit
    for d in hit:
        ran = (d["TrainingEndTime"] - d["TrainingStartTime"]).total_seconds()
        # The job ends at its MaxRuntime, not at a thirtieth of it.
        assert ran == pytest.approx(d["StoppingCondition"]["MaxRuntimeInSeconds"], abs=120)


def test_pace_maps_plan_time_to_real_time_and_back() -> None:
    e = EPOCH.timestamp()
    pace = Pace([(e, 30), (e + 100, 10)])
    assert pace.to_real(e - 5000) == e - 5000  # history at real pace
    assert pace.to_plan(e + 10) == e + 300
    assert pace.to_plan(e + 150) == e + 3000 + 500
    for t in (e - 1, e, e + 7.5, e + 100, e + 1234.5):
        assert pace.to_real(pace.to_plan(t)) == pytest.approx(t)
    assert pace.real_span(e + 2990, 20) == pytest.approx(1 / 3 + 1)
    assert Pace().identity and Pace([(e, 1)]).identity and not pace.identity
    with pytest.raises(ValueError):
        Pace([(e, 0.5)])


def _account(at: datetime, **kwargs: Any) -> SimulatedSageMaker:
    return SimulatedSageMaker(
        jobs=1000, seed=1, speed=DEMO_SPEED, clock=Clock(start=at, speed=0), epoch=EPOCH.timestamp(), **kwargs
    )


def test_two_runs_of_one_account_describe_the_same_jobs() -> None:
    first = _account(EPOCH + timedelta(minutes=10))
    second = _account(EPOCH + timedelta(hours=2))
    names = first.job_names()
    assert second.job_names()[: len(names)] == names
    assert len(second.job_names()) > len(names)
    running = [n for n in names if first.describe(n)["TrainingJobStatus"] in ("InProgress", "Stopping")]
    assert len(running) >= 5
    for name in running:
        before, after = first.describe(name), second.describe(name)  # not found would raise
        assert after["TrainingJobArn"] == before["TrainingJobArn"]
        assert after["CreationTime"] == before["CreationTime"]
        # What the first run reported stays true: the second only adds what happened since.
        seen = before["SecondaryStatusTransitions"]
        assert [t["StartTime"] for t in after["SecondaryStatusTransitions"][: len(seen)]] == [
            t["StartTime"] for t in seen
        ]


def _options(*argv: str) -> dict[str, Any]:
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return vars(parser.parse_args(["--port", "0", "--jobs", "1000", *argv]))


def test_the_state_file_brings_back_the_account_and_keeps_its_history_through_a_speed_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "db.sqlite3.simulated-account.json"
    real = FakeRealTime(EPOCH)
    monkeypatch.setattr(simulator.clock, "time", real)
    said: list[str] = []
    first = build({**_options("--state", str(state)), "say": said.append})
    assert "new simulated account" in said[-1]
    real.advance(600)
    names = first.job_names()
    known = {n: first.describe(n) for n in names[-30:]}

    real.advance(3600)  # an hour later, at another speed
    second = build({**_options("--state", str(state), "--speed", "10"), "say": said.append})
    assert "continuing" in said[-1]
    assert json.loads(state.read_text())["epoch"] == EPOCH.timestamp()
    assert second.job_names()[: len(names)] == names
    for name, before in known.items():
        after = second.describe(name)
        assert after["CreationTime"] == before["CreationTime"]
        seen = [t["StartTime"] for t in before["SecondaryStatusTransitions"]]
        assert [t["StartTime"] for t in after["SecondaryStatusTransitions"][: len(seen)]] == seen

    other = build({**_options("--state", str(state), "--seed", "2"), "say": said.append})
    assert "new simulated account" in said[-1] and other.job_names()[0] not in names


def test_an_unreadable_state_file_is_reported_and_kept(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{not json")
    with pytest.raises(StateError, match="delete it"):
        resume(state, seed=1, jobs=10, speed=30, now=EPOCH.timestamp())
    assert state.read_text() == "{not json"
