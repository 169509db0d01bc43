"""Beat -> Celery worker -> moto over HTTP -> database, on a real Redis broker."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable

import pytest
from botocore.awsrequest import AWSResponse
from celery.beat import EmbeddedService

from dashboard.celery import app as celery_app
from jobs import sagemaker
from jobs.models import Source, SyncCycle, SyncError, TrainingJob
from jobs.tasks import describe_jobs, sync_source
from tests.integration.conftest import REGION, create_job

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def default_source_env(moto_url, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", moto_url)
    return sagemaker.SourceConfig(region=REGION)


@pytest.fixture
def calls(default_source_env) -> Counter:
    counter: Counter = Counter()
    client = sagemaker.client_for(default_source_env)
    client.meta.events.register("before-call.sagemaker.*", lambda model, **kw: counter.update([model.name]))
    return counter


@pytest.fixture
def beat(celery_worker):
    """Real beat, in a thread, with the sync entry ticking every second."""
    entry = celery_app.conf.beat_schedule["sync all sources"]
    saved = entry["schedule"]
    entry["schedule"] = 1.0
    service = EmbeddedService(celery_app, thread=True, max_interval=0.5, scheduler_cls="celery.beat.Scheduler")
    service.start()
    yield service
    service.stop()
    entry["schedule"] = saved


def test_beat_is_scheduled_with_expiry_under_the_interval(settings):
    entry = celery_app.conf.beat_schedule["sync all sources"]
    assert entry["task"] == "jobs.tasks.sync_all_sources"
    assert entry["options"]["expires"] < settings.TRAINWATCH_SYNC_INTERVAL


def test_beat_triggered_sync_brings_the_database_into_step(sm_client, calls, beat):
    for i in range(6):
        create_job(sm_client, f"beat-{i}", instance_count=2)
    wait_for(lambda: TrainingJob.objects.filter(described_at__isnull=False).count() == 6, what="6 described jobs")
    job = TrainingJob.objects.get(name="beat-4")
    assert job.transitions.count() == 1
    assert job.metrics.count() == 1
    assert job.tags == {"team": "vision"}
    assert job.billable_seconds is not None

    # Let at least one more full cycle pass: nothing changed, so no describes.
    described = calls["DescribeTrainingJob"]
    cycles = SyncCycle.objects.count()
    wait_for(lambda: SyncCycle.objects.filter(finished_at__isnull=False).count() >= cycles + 2, what="two more cycles")
    assert calls["DescribeTrainingJob"] == described
    assert SyncCycle.objects.order_by("-started_at").first().queued == 0


def _inject(default_source_env, status: int, code: str, times: int) -> Counter:
    """Answer the next ``times`` DescribeTrainingJob sends with an AWS error."""
    sent: Counter = Counter()

    def maybe_fail(request, **kwargs):
        if sent["faults"] >= times:
            return None
        sent["faults"] += 1
        body = json.dumps({"__type": code, "message": "Rate exceeded"}).encode()
        raw = type("Raw", (), {"stream": lambda self, **kw: iter([body])})()
        return AWSResponse(request.url, status, {"x-amzn-ErrorType": code}, raw)

    client = sagemaker.client_for(default_source_env)
    client.meta.events.register_first("before-send.sagemaker.DescribeTrainingJob", maybe_fail)
    return sent


@pytest.mark.parametrize(("status", "code"), [(400, "ThrottlingException"), (500, "InternalFailure")])
def test_describe_retries_through_throttling_and_server_errors(
    sm_client, default_source_env, celery_worker, status, code, settings
):
    settings.AWS_MAX_ATTEMPTS = 1
    settings.TRAINWATCH_SEARCH = False  # the describe path, which is what retries
    sagemaker.reset_clients()
    create_job(sm_client, "retry-me")
    faults = _inject(default_source_env, status, code, times=2)
    from jobs.sources import ensure_configured_sources

    source = ensure_configured_sources()[0]
    sync_source.delay(source.pk)
    wait_for(lambda: TrainingJob.objects.filter(name="retry-me", described_at__isnull=False).exists(), what="describe")
    assert faults["faults"] == 2
    assert not SyncError.objects.exists()  # retried, not given up on


@pytest.mark.usefixtures("describe_only")
def test_a_describe_that_keeps_failing_is_recorded_and_stays_due(
    sm_client, default_source_env, celery_worker, settings
):
    settings.AWS_MAX_ATTEMPTS = 1
    sagemaker.reset_clients()
    create_job(sm_client, "hopeless")
    _inject(default_source_env, 400, "ThrottlingException", times=10_000)
    from jobs.sources import ensure_configured_sources

    source = ensure_configured_sources()[0]
    from jobs import ingest
    from jobs.domain.parse import parse_summary

    ingest.upsert_summaries(source, [parse_summary(s) for s in sm_client.list_training_jobs()["TrainingJobSummaries"]])
    describe_jobs.apply_async(args=[source.pk, ["hopeless"]], retries=describe_jobs.max_retries)
    wait_for(lambda: SyncError.objects.filter(job_name="hopeless").exists(), what="recorded error")
    assert SyncError.objects.get().kind == "throttled"
    assert TrainingJob.objects.needing_describe().filter(name="hopeless").exists()


def test_sync_ticks_are_routed_apart_from_describes():
    """A describe backlog must never hold up the next listing."""
    assert celery_app.amqp.router.route({}, "jobs.tasks.sync_source")["queue"].name == "sync"
    assert celery_app.amqp.router.route({}, "jobs.tasks.sync_all_sources")["queue"].name == "sync"
    assert celery_app.amqp.router.route({}, "jobs.tasks.describe_jobs")["queue"].name == "celery"
    assert {q.name for q in celery_app.amqp.queues.values()} == {"sync", "celery"}


@pytest.mark.usefixtures("describe_only")
def test_a_chunk_stores_what_it_described_and_retries_only_the_throttled_name(
    sm_client, default_source_env, celery_worker, settings
):
    settings.AWS_MAX_ATTEMPTS = 1
    sagemaker.reset_clients()
    names = ["chunk-a", "chunk-b", "chunk-c"]
    for name in names:
        create_job(sm_client, name)
    asked: list[str] = []

    def note(params, **kwargs):
        asked.append(params["TrainingJobName"])

    sagemaker.client_for(default_source_env).meta.events.register(
        "provide-client-params.sagemaker.DescribeTrainingJob", note
    )
    faults = _inject(default_source_env, 400, "ThrottlingException", times=1)  # the chunk's first describe
    source = Source.objects.create(name="chunked", region=REGION)
    cycle = SyncCycle.objects.create(source=source)
    describe_jobs.delay(source.pk, names, cycle.pk)
    wait_for(lambda: TrainingJob.objects.filter(described_at__isnull=False).count() == 3, what="3 described jobs")
    assert faults["faults"] == 1
    # The other two were stored by the first run; the retry asked for the throttled one alone.
    assert asked == ["chunk-a", "chunk-b", "chunk-c", "chunk-a"]
    first_stored = TrainingJob.objects.filter(name__in=["chunk-b", "chunk-c"]).values_list("described_at", flat=True)
    assert max(first_stored) < TrainingJob.objects.get(name="chunk-a").described_at
    cycle.refresh_from_db()
    assert (cycle.described, cycle.changed, cycle.errors) == (3, 3, 0)
    assert not SyncError.objects.exists()
