"""The product's sync, pointed at the simulated account, converges on its truth."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bench.soak_truth import mismatches
from jobs import sync
from jobs.models import Source, TrainingJob
from simulator import SimulatedSageMaker

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def sim(aws_env, settings) -> Iterator[SimulatedSageMaker]:
    settings.TRAINWATCH_LOOKBACK_DAYS = 60
    with SimulatedSageMaker(jobs=150, seed=11, speed=0, start=START, filter_after_page=True) as sim:
        yield sim


@pytest.fixture
def sim_source(sim) -> Source:
    return Source.objects.create(name="sim", region="us-east-1", endpoint_url=sim.endpoint_url)


def test_sync_converges_on_the_simulated_truth_as_time_passes(sim, sim_source):
    sync.run_cycle(sim_source, now=sim.clock.now())
    assert mismatches(sim) == []
    statuses = set(TrainingJob.objects.values_list("status", flat=True))
    assert {"Completed", "Failed", "Stopped"} <= statuses

    # Two simulated hours: jobs progress, finish, fail, and new ones arrive.
    for _ in range(12):
        sim.clock.advance(600)
        cycle = sync.run_cycle(sim_source, now=sim.clock.now())
        assert cycle.error == ""
    assert len(sim.job_names()) > 150
    assert mismatches(sim) == []


def test_steady_state_describes_only_running_and_changed_jobs(sim, sim_source):
    sync.run_cycle(sim_source, now=sim.clock.now())
    sim.reset_stats()
    sim.clock.advance(60)
    cycle = sync.run_cycle(sim_source, now=sim.clock.now())
    calls = sim.stats["calls"]
    running = TrainingJob.objects.running().count()
    assert calls["DescribeTrainingJob"] == cycle.queued
    assert calls["DescribeTrainingJob"] <= running + cycle.listed
    assert calls["DescribeTrainingJob"] < 150 / 2
    assert calls["ListTrainingJobs"] == cycle.list_pages
