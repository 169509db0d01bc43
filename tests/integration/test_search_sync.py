"""Refreshing due jobs through Search, against the simulated account over HTTP."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bench.soak_truth import mismatches
from jobs import ingest, sagemaker, search_sync, sync
from jobs.domain.parse import parse_summary
from jobs.models import JobTag, Source, SyncCycle, TrainingJob
from simulator import SimulatedSageMaker

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def sim(aws_env) -> Iterator[SimulatedSageMaker]:
    with SimulatedSageMaker(jobs=300, seed=5, speed=0, start=START) as sim:
        yield sim


@pytest.fixture
def source(sim) -> Source:
    return Source.objects.create(name="sim", region="us-east-1", endpoint_url=sim.endpoint_url)


def _list_all(source: Source, sim: SimulatedSageMaker) -> list[str]:
    """What a cycle's listing leaves: a stub per job, nothing described yet."""
    config = sagemaker.SourceConfig.of(source)
    for page in sagemaker.list_changed_pages(config, START - timedelta(days=60)):
        ingest.upsert_summaries(source, [parse_summary(item) for item in page])
    return sorted(source.jobs.needing_describe().values_list("name", flat=True))


def _refresh(source: Source, names: list[str], *, cycle_id: int | None, now) -> dict:
    """What a cycle and its chunks do: running jobs by status, then the rest by name."""
    found = search_sync.refresh_running(source, search_sync.job_states(source, names), cycle_id=cycle_id, now=now)
    rest = [name for name in names if name not in found]
    for start in range(0, len(rest), 20):
        found |= search_sync.refresh_named(source, rest[start : start + 20], cycle_id=cycle_id, now=now)
    return found


def test_search_refreshes_every_due_job_in_few_calls(sim, source):
    names = _list_all(source, sim)
    assert len(names) == 300
    running = source.jobs.filter(status="InProgress").count()
    assert running
    cycle = SyncCycle.objects.create(source=source)
    sim.reset_stats()

    refreshed = _refresh(source, names, cycle_id=cycle.pk, now=sim.clock.now())

    assert set(refreshed) == set(names)
    assert set(refreshed.values()) == {ingest.Outcome.CHANGED}  # the listing's stubs, now described
    calls = sim.stats["calls"]
    stopping = source.jobs.filter(status="Stopping").count()
    expected = math.ceil(running / 100) + math.ceil(stopping / 100) + math.ceil((300 - running - stopping) / 20)
    assert calls["Search"] == expected
    assert calls["DescribeTrainingJob"] == 0 and calls["ListTags"] == 0
    assert mismatches(sim) == []
    # Tags came with the records.
    some = names[7]
    assert dict(JobTag.objects.filter(job__name=some).values_list("key", "value")) == {
        t["Key"]: t["Value"] for t in sim.tags(some)
    }
    cycle.refresh_from_db()
    assert cycle.described == 300 and cycle.changed == 300
    assert not source.jobs.filter(described_at__isnull=True).exists()


def test_later_cycles_search_running_jobs_by_status(sim, source):
    names = _list_all(source, sim)
    _refresh(source, names, cycle_id=None, now=sim.clock.now())
    sim.clock.advance(600)
    names = _list_all(source, sim)
    running = list(source.jobs.running().values_list("name", flat=True))
    assert set(running) <= set(names)
    sim.reset_stats()

    refreshed = _refresh(source, names, cycle_id=None, now=sim.clock.now())

    assert set(refreshed) == set(names)
    assert sim.stats["calls"]["Search"] <= 2 + math.ceil(len(set(names) - set(running)) / 20)
    assert mismatches(sim) == []


def test_a_record_behind_the_listing_is_left_for_describe(sim, source):
    names = _list_all(source, sim)
    lagging = names[3]
    # ListTrainingJobs saw a change that Search's index does not show yet.
    TrainingJob.objects.filter(name=lagging).update(last_modified_time=sim.clock.now() + timedelta(hours=1))

    refreshed = _refresh(source, names, cycle_id=None, now=sim.clock.now())

    assert set(refreshed) == set(names) - {lagging}
    assert lagging in set(source.jobs.needing_describe().values_list("name", flat=True))


def test_search_failures_leave_the_rest_to_describe(sim, source):
    names = _list_all(source, sim)
    before = {j.name: (j.status, j.described_at) for j in source.jobs.all()}
    sim.faults.throttle_rate = 1.0
    running = list(source.jobs.running().values_list("name", flat=True))
    idle = [name for name in names if name not in running][:20]

    refreshed = _refresh(source, running + idle, cycle_id=None, now=sim.clock.now())

    assert refreshed == {}
    assert {j.name: (j.status, j.described_at) for j in source.jobs.all()} == before
    assert sim.stats["faults"]["throttle"] >= 1


def test_unreadable_records_are_skipped_and_stored_rows_kept(sim, source):
    names = _list_all(source, sim)
    _refresh(source, names, cycle_id=None, now=sim.clock.now())
    sim.clock.advance(600)
    names = _list_all(source, sim)
    stored = {j.name: j.raw for j in source.jobs.filter(name__in=names)}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("simulator.faults.MALFORMATIONS", ("missing_status", "instance_count_string"))
        sim.faults.malformed_rate = 1.0
        refreshed = _refresh(source, names, cycle_id=None, now=sim.clock.now())
    broken = set(names) - set(refreshed)
    # One record of each page was broken: skipped, with its stored row as it was.
    assert 1 <= len(broken) <= sim.stats["faults"]["malformed"]
    for name in broken:
        assert TrainingJob.objects.get(name=name).raw == stored[name]
    assert refreshed


def test_a_cycle_searches_running_jobs_and_its_chunks_search_the_rest(sim, source, settings):
    settings.TRAINWATCH_LOOKBACK_DAYS = 60
    cycle = sync.run_cycle(source, now=sim.clock.now())
    assert source.jobs.filter(described_at__isnull=True).count() == 0
    assert mismatches(sim) == []
    calls = sim.stats["calls"]
    running = source.jobs.filter(status__in=("InProgress", "Stopping")).count()
    statuses = source.jobs.filter(status__in=("InProgress", "Stopping")).values("status").distinct().count()
    assert calls["DescribeTrainingJob"] == 0 and calls["ListTags"] == 0
    assert calls["Search"] == statuses * math.ceil(running / 100 / statuses) + math.ceil((300 - running) / 20)
    assert cycle.described == 300 and cycle.queued == 300 - running
