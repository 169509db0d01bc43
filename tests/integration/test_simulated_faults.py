"""The sync under the simulated account's faults, over real HTTP.

Each fault mode reaches the sync as designed (retry what may pass, record
what will not, never corrupt a stored row), and a short fault soak (a real
Celery worker on real Redis, 150 jobs, every fault at once) still ends with
the database matching the simulated truth. The long soak is bench/soak.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.forms.models import model_to_dict

import simulator.faults
from bench.soak_truth import contract_breaking_malformations, mismatches
from jobs import sagemaker, sync
from jobs.models import Source, SyncError, TrainingJob
from jobs.tasks import sync_source
from simulator import Faults, SimulatedSageMaker
from tests.integration.conftest import real_worker

# Each fault mode is checked on the describe path, one call at a time; the
# convergence test at the end runs the whole sync, Search included.
pytestmark = pytest.mark.usefixtures("describe_only")

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def sim(aws_env, settings) -> Iterator[SimulatedSageMaker]:
    settings.TRAINWATCH_LOOKBACK_DAYS = 60
    # One attempt per call: what botocore would retry reaches our own retry
    # path, which is what these tests are about.
    settings.AWS_MAX_ATTEMPTS = 1
    sagemaker.reset_clients()
    with SimulatedSageMaker(jobs=120, seed=5, speed=0, start=START) as sim:
        yield sim


@pytest.fixture
def sim_source(sim, db) -> Source:
    return Source.objects.create(name="sim", region="us-east-1", endpoint_url=sim.endpoint_url)


def snapshot(name: str) -> dict[str, Any]:
    job = TrainingJob.objects.get(name=name)
    row = model_to_dict(job)
    row["transitions"] = list(job.transitions.values_list("position", "status", "start_time", "end_time", "message"))
    row["metrics"] = sorted(job.metrics.values_list("name", "value", "timestamp"))
    row["tags"] = sorted(job.tag_rows.values_list("key", "value"))
    return row


def a_finished_job(sim: SimulatedSageMaker) -> str:
    return next(n for n in sim.job_names() if sim.describe(n)["TrainingJobStatus"] == "Completed")


@pytest.mark.django_db
def test_throttling_is_retryable_then_the_describe_succeeds(sim, sim_source):
    name = a_finished_job(sim)
    sim.faults = Faults(throttle_rate=1.0)
    # What the describe task does on a try before its last: keep what it may retry.
    retry = sync.describe_chunk(sim_source, [name], cycle_id=None, keep_retryable=True).retry
    assert retry[name].retryable
    assert retry[name].code == "ThrottlingException"
    assert not TrainingJob.objects.filter(name=name).exists()
    assert not SyncError.objects.exists()  # a retry is coming: nothing to report yet

    sim.faults = Faults()
    chunk = sync.describe_chunk(sim_source, [name], cycle_id=None, keep_retryable=True)
    assert chunk.retry == {} and chunk.results[name].error == ""
    assert TrainingJob.objects.get(name=name).status == "Completed"
    assert sim.stats["faults"]["throttle"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("faults", "code"),
    [
        (Faults(server_error_rate=1.0), "InternalFailure"),
        (Faults(unavailable_rate=1.0), "ServiceUnavailable"),
        (Faults(drop_rate=1.0), "ConnectionError"),
    ],
)
def test_server_errors_are_retryable_and_recorded_on_the_last_try(sim, sim_source, faults, code):
    name = a_finished_job(sim)
    sync.describe_and_store(sim_source, name, cycle_id=None)
    before = snapshot(name)

    sim.faults = faults
    retry = sync.describe_chunk(sim_source, [name], cycle_id=None, keep_retryable=True).retry
    assert retry[name].retryable
    assert retry[name].code == code

    # The task's last try records it instead, and the row stays as it was.
    result = sync.describe_and_store(sim_source, name, cycle_id=None)
    assert result.error
    error = SyncError.objects.get()
    assert (error.job_name, error.kind) == (name, "aws")
    assert snapshot(name) == before


@pytest.mark.django_db
@pytest.mark.parametrize("variant", ["missing_status", "creation_time_string", "instance_count_string"])
def test_a_malformed_body_is_a_sync_error_naming_the_job_and_the_row_is_untouched(
    sim, sim_source, monkeypatch, variant
):
    name = a_finished_job(sim)
    sync.describe_and_store(sim_source, name, cycle_id=None)
    before = snapshot(name)

    monkeypatch.setattr(simulator.faults, "MALFORMATIONS", (variant,))
    sim.faults = Faults(malformed_rate=1.0)
    # The task's last try: nothing left to retry, so it is recorded.
    result = sync.describe_and_store(sim_source, name, cycle_id=None)

    assert result.outcome is None
    error = SyncError.objects.get()
    assert error.kind == "malformed"
    assert error.job_name == name
    assert snapshot(name) == before
    assert sim.stats["faults"]["malformed"] == 1


@pytest.mark.django_db
def test_a_body_botocore_cannot_read_is_retried_before_it_is_recorded(sim, sim_source, monkeypatch):
    # "yesterday afternoon" as CreationTime fails inside botocore's own parser,
    # before ours sees the response; it used to escape as an AttributeError.
    name = a_finished_job(sim)
    monkeypatch.setattr(simulator.faults, "MALFORMATIONS", ("creation_time_string",))
    sim.faults = Faults(malformed_rate=1.0)
    retry = sync.describe_chunk(sim_source, [name], cycle_id=None, keep_retryable=True).retry
    assert retry[name].retryable
    assert retry[name].code == sagemaker.UNREADABLE
    assert not SyncError.objects.exists()


@pytest.mark.django_db
def test_a_throttled_listing_still_describes_the_running_jobs(sim, sim_source):
    sync.run_cycle(sim_source, now=sim.clock.now())
    cursor = Source.objects.get(pk=sim_source.pk).list_cursor
    running = set(TrainingJob.objects.running().values_list("name", flat=True))
    assert running

    sim.clock.advance(600)
    sim.faults = Faults(throttle_rate=1.0)
    queued: list[str] = []
    cycle = sync.run_cycle(sim_source, now=sim.clock.now(), dispatch=lambda cycle, names: queued.extend(names))

    assert cycle.error.startswith("ListTrainingJobs failed: ThrottlingException")
    assert running <= set(queued)
    assert Source.objects.get(pk=sim_source.pk).list_cursor == cursor  # listed nothing, so no progress claimed


@pytest.mark.django_db
def test_a_malformed_body_for_a_new_job_stores_nothing_and_the_job_stays_due(sim, sim_source, monkeypatch):
    name = a_finished_job(sim)
    monkeypatch.setattr(simulator.faults, "MALFORMATIONS", ("instance_count_string",))
    sim.faults = Faults(malformed_rate=1.0)
    sync.describe_and_store(sim_source, name, cycle_id=None)
    assert not TrainingJob.objects.filter(name=name).exists()
    assert SyncError.objects.get().job_name == name

    sim.faults = Faults()
    sync.run_cycle(sim_source, now=sim.clock.now())
    assert mismatches(sim) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("variant", "field", "value"),
    [("unknown_status", "status", "Pausing"), ("unknown_secondary", "secondary_status", "Hibernating")],
)
def test_an_unknown_status_is_stored_as_sent(sim, sim_source, monkeypatch, variant, field, value):
    name = a_finished_job(sim)
    monkeypatch.setattr(simulator.faults, "MALFORMATIONS", (variant,))
    sim.faults = Faults(malformed_rate=1.0)
    result = sync.describe_and_store(sim_source, name, cycle_id=None)
    assert result.error == ""
    assert getattr(TrainingJob.objects.get(name=name), field) == value
    assert not SyncError.objects.exists()


@pytest.mark.django_db
def test_an_unknown_job_status_keeps_the_job_due_until_a_known_one_is_read(sim, sim_source, monkeypatch):
    name = a_finished_job(sim)
    monkeypatch.setattr(simulator.faults, "MALFORMATIONS", ("unknown_status",))
    sim.faults = Faults(malformed_rate=1.0)
    sync.describe_and_store(sim_source, name, cycle_id=None)
    assert TrainingJob.objects.needing_describe().filter(name=name).exists()

    sim.faults = Faults()
    sync.describe_and_store(sim_source, name, cycle_id=None)
    assert TrainingJob.objects.get(name=name).status == "Completed"
    assert not TrainingJob.objects.needing_describe().filter(name=name).exists()


# --- the short soak -------------------------------------------------------------------------


@pytest.fixture
def faulty_sim(aws_env, settings) -> Iterator[SimulatedSageMaker]:
    settings.TRAINWATCH_LOOKBACK_DAYS = 60
    settings.AWS_MAX_ATTEMPTS = 1  # every fault reaches the task's own backoff
    # The simulator throttles at random, not above a rate, so adaptive mode's
    # client-side limiter would only slow the worker to a crawl (about one call
    # a second here); bench/soak.py keeps the product's default.
    settings.AWS_RETRY_MODE = "standard"
    # A describe lost with its task (or given up on) is queued again quickly.
    settings.TRAINWATCH_DESCRIBE_TIMEOUT_SECONDS = 20
    sagemaker.reset_clients()
    faults = Faults(throttle_rate=0.30, server_error_rate=0.05, malformed_rate=0.01, latency_ms=2)
    with (
        contract_breaking_malformations(),
        SimulatedSageMaker(jobs=150, seed=3, speed=0, start=START, faults=faults, filter_after_page=True) as sim,
    ):
        yield sim


@pytest.fixture
def threaded_worker(redis_url, transactional_db):
    """A real Celery worker with four threads, so 150 jobs under faults take seconds, not minutes."""
    with real_worker(redis_url, pool="threads", concurrency=4) as worker:
        yield worker


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_under_every_fault_converges_on_the_truth(faulty_sim, threaded_worker, settings):
    settings.TRAINWATCH_SEARCH = True  # the product's default path
    source = Source.objects.create(name="sim", region="us-east-1", endpoint_url=faulty_sim.endpoint_url)
    deadline = time.monotonic() + 75  # typically done in half that; headroom for a loaded CI machine
    remaining = ["not synced yet"]
    while time.monotonic() < deadline:
        # As beat sends it: a tick still queued after its interval is dropped.
        sync_source.apply_async([source.pk], expires=2.5)
        time.sleep(3)
        remaining = mismatches(faulty_sim, limit=5)
        if not remaining:
            break
    assert remaining == []

    stats = faulty_sim.stats
    # Search and describes both ran, and both met faults on the way.
    assert stats["calls"]["Search"] > 0 and stats["calls"]["DescribeTrainingJob"] > 0
    assert stats["faults"]["throttle"] >= 10
    assert stats["faults"]["throttle"] + stats["faults"]["server_error"] >= 15
    assert TrainingJob.objects.count() == 150
