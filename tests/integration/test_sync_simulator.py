"""The product's sync, pointed at the simulated account, converges on its truth."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from jobs import sync
from jobs.domain.billing import billable_seconds
from jobs.domain.parse import parse_training_job
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


def mismatches(sim: SimulatedSageMaker) -> list[str]:
    """Every difference between the database and the simulator's truth."""
    stored = {j.name: j for j in TrainingJob.objects.prefetch_related("transitions", "metrics")}
    problems = []
    names = sim.job_names()
    if set(stored) != set(names):
        problems.append(f"job sets differ: {len(stored)} stored, {len(names)} simulated")
    now = sim.clock.now()
    for name in names:
        job = stored.get(name)
        if job is None:
            continue
        truth = parse_training_job(sim.describe(name))
        expected = {
            "status": truth.status,
            "secondary_status": truth.secondary_status,
            "failure_reason": truth.failure_reason,
            "transitions": [(t.status, t.start_time, t.end_time, t.message) for t in truth.transitions],
            "metrics": sorted((m.name, m.value) for m in truth.metrics),
            "billable": billable_seconds(
                truth.training_start_time, truth.training_end_time, truth.instance_count, now=now
            ),
            "reported": truth.reported_billable_seconds,
        }
        actual = {
            "status": job.status,
            "secondary_status": job.secondary_status,
            "failure_reason": job.failure_reason,
            "transitions": [(t.status, t.start_time, t.end_time, t.message) for t in job.transitions.all()],
            "metrics": sorted((m.name, m.value) for m in job.metrics.all()),
            "billable": job.billable_seconds,
            "reported": job.reported_billable_seconds,
        }
        for key in expected:
            if expected[key] != actual[key]:
                problems.append(f"{name}.{key}: {actual[key]!r} != {expected[key]!r}")
    return problems


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
