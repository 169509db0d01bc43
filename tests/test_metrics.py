"""/metrics: Prometheus text from the database and Redis, open to a token or a network only."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from jobs import broker, metrics, sagemaker
from jobs.domain.health import SyncState
from jobs.models import SyncCycle, TrainingJob
from jobs.tasks import describe_jobs
from tests.factories import make_job, make_source

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clean_counters(settings):
    settings.TRAINWATCH_METRICS_TOKEN = ""
    settings.TRAINWATCH_METRICS_ALLOW = [ipaddress.ip_network("127.0.0.1/32")]
    settings.BEHIND_TLS_PROXY = False
    redis = broker.connection()
    queues = [metrics.describe_queue(), "sync"]
    keys = [metrics.AWS_CALLS_KEY, metrics.AWS_ERRORS_KEY, *queues]
    keys += [f"{q}{metrics._PRIORITY_SEPARATOR}{p}" for q in queues for p in metrics._PRIORITY_STEPS[1:]]
    redis.delete(*keys)
    metrics._paused_until = 0.0
    yield
    redis.delete(*keys)


def scrape(client, **extra) -> dict[str, dict[tuple, float]]:
    """{metric name: {label values sorted as (name, value) pairs: value}}, parsed by prometheus_client."""
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_values_match_the_database(client, db, settings, django_assert_max_num_queries):
    settings.TRAINWATCH_SYNC_INTERVAL = 60
    settings.TRAINWATCH_PUSH_WINDOW_SECONDS = 900
    prod = make_source("prod", last_success_at=NOW - timedelta(seconds=42), last_event_at=NOW - timedelta(seconds=5))
    make_source("eu", last_success_at=NOW - timedelta(hours=1), last_event_at=NOW - timedelta(hours=1))
    make_source("new")
    make_job("a-1", source=prod, status="InProgress")
    make_job("a-2", source=prod, status="InProgress")
    make_job("a-3", source=prod, status="Stopping")
    # Gone at the source: stored as InProgress, no longer counted as running.
    TrainingJob.objects.filter(pk=make_job("a-6", source=prod, status="InProgress").pk).update(gone_at=NOW)
    make_job("a-4", source=prod, status="Completed")
    make_job("a-5", source=prod, status="Failed")
    SyncCycle.objects.create(source=prod, started_at=NOW - timedelta(minutes=5), finished_at=NOW - timedelta(minutes=4))
    # The newest finished cycle counts; an unfinished newer one (a killed worker) does not.
    SyncCycle.objects.create(
        source=prod, started_at=NOW - timedelta(seconds=50), finished_at=NOW - timedelta(seconds=42.5), errors=2
    )
    SyncCycle.objects.create(source=prod, started_at=NOW - timedelta(seconds=10))

    with time_machine.travel(NOW, tick=False), django_assert_max_num_queries(2 + 3):
        m = scrape(client)

    assert m["trainwatch_database_up"] == {(): 1} and m["trainwatch_broker_up"] == {(): 1}
    assert m["trainwatch_jobs"] == {
        (("source", "prod"), ("status", "InProgress")): 3,  # the gone one included: stored jobs
        (("source", "prod"), ("status", "Stopping")): 1,
        (("source", "prod"), ("status", "Completed")): 1,
        (("source", "prod"), ("status", "Failed")): 1,
    }
    assert m["trainwatch_running_jobs"] == {(("source", "eu"),): 0, (("source", "new"),): 0, (("source", "prod"),): 3}
    assert m["trainwatch_source_sync_age_seconds"] == {(("source", "eu"),): 3600, (("source", "prod"),): 42}
    assert m["trainwatch_sync_cycle_duration_seconds"] == {(("source", "prod"),): 7.5}
    assert m["trainwatch_sync_cycle_errors"] == {(("source", "prod"),): 2}
    states = {labels: v for labels, v in m["trainwatch_source_state"].items() if v == 1}
    assert states == {
        (("source", "eu"), ("state", "stale")): 1,
        (("source", "new"), ("state", "never synced")): 1,
        (("source", "prod"), ("state", "ok")): 1,
    }
    assert len(m["trainwatch_source_state"]) == 3 * len(SyncState)
    assert m["trainwatch_source_push"] == {(("source", "eu"),): 0, (("source", "new"),): 0, (("source", "prod"),): 1}
    assert m["trainwatch_source_event_age_seconds"] == {(("source", "eu"),): 3600, (("source", "prod"),): 5}


def test_describe_queue_depth_counts_queued_tasks(client, db, source):
    for chunk in (["a"], ["b", "c"], ["d"]):
        describe_jobs.delay(source.pk, chunk, None)  # no worker runs here: they wait
    describe_jobs.apply_async((source.pk, ["e"], None), priority=6)
    m = scrape(client)
    assert m["trainwatch_queue_depth"][(("queue", metrics.describe_queue()),)] == 4
    assert m["trainwatch_queue_depth"][(("queue", "sync"),)] == 0


def test_aws_calls_and_errors_are_counted_where_they_happen(client, db, aws_env):
    from simulator import SimulatedSageMaker

    sim = SimulatedSageMaker(jobs=3, seed=1, speed=0, start=NOW).start()
    try:
        config = sagemaker.SourceConfig(region="us-east-1", endpoint_url=sim.endpoint_url)
        name = sim.job_names()[0]
        sagemaker.describe_job(config, name)
        sagemaker.describe_job(config, name)
        with pytest.raises(sagemaker.NotFound):
            sagemaker.describe_job(config, "no-such-job")
        pages = list(sagemaker.list_changed_pages(config, NOW - timedelta(days=400)))
    finally:
        sim.stop()
    m = scrape(client)
    assert m["trainwatch_aws_calls_total"] == {
        (("operation", "describe_training_job"),): 3,
        (("operation", "list_training_jobs"),): len(pages),
    }
    assert m["trainwatch_aws_errors_total"] == {
        (("code", "ValidationException"), ("operation", "describe_training_job")): 1
    }


def test_unreachable_sagemaker_counts_as_an_error(db, aws_env, settings):
    settings.AWS_MAX_ATTEMPTS = 1
    config = sagemaker.SourceConfig(region="us-east-1", endpoint_url="http://127.0.0.1:1")
    with pytest.raises(sagemaker.SageMakerError):
        sagemaker.describe_job(config, "x")
    redis = broker.connection()
    assert redis.hgetall(metrics.AWS_ERRORS_KEY) == {b"describe_training_job|ConnectionError": b"1"}


def test_counting_never_holds_up_a_call_when_redis_is_down(settings, monkeypatch):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    metrics.count_aws_call("describe_training_job")  # refused: logged, then paused
    assert metrics._paused_until > 0

    def fail(*args, **kwargs):
        raise AssertionError("Redis asked again while paused")

    monkeypatch.setattr(broker, "connection", fail)
    metrics.count_aws_call("describe_training_job", error_code="ThrottlingException")


def test_broker_down_still_serves_the_database_figures(client, db, settings):
    make_source("prod")
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    m = scrape(client)
    assert m["trainwatch_broker_up"] == {(): 0}
    assert m["trainwatch_database_up"] == {(): 1}
    assert "trainwatch_queue_depth" not in m


# --- who may scrape -----------------------------------------------------------


def test_loopback_by_default_and_nobody_else(client, db):
    assert client.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    assert b"trainwatch_" not in response.content


def test_configured_network(client, db, settings):
    settings.TRAINWATCH_METRICS_ALLOW = [ipaddress.ip_network("10.0.0.0/8")]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    settings.TRAINWATCH_METRICS_ALLOW = []
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403


def test_bearer_token(client, db, settings):
    settings.TRAINWATCH_METRICS_TOKEN = "s3cret-scrape-token"
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token", **outside).status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", **outside).status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic s3cret-scrape-token", **outside).status_code == 403
    assert client.get("/metrics", **outside).status_code == 403
    # No token configured: an empty bearer never matches.
    settings.TRAINWATCH_METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ", **outside).status_code == 403


def test_behind_a_proxy_only_the_proxys_own_entry_counts(client, db, settings):

    settings.BEHIND_TLS_PROXY = True
    settings.TRAINWATCH_METRICS_ALLOW = [ipaddress.ip_network("10.0.0.0/8")]
    # Through a local proxy every request comes from loopback: that opens nothing.
    assert client.get("/metrics").status_code == 403
    # A client cannot forge its way in with its own X-Forwarded-For entries.
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="10.0.0.1, 203.0.113.9").status_code == 403
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.7").status_code == 200


def test_a_login_does_not_open_it(client, db, teammate):
    client.force_login(teammate)
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403


def test_only_reads(client, db):
    assert client.post("/metrics").status_code == 405


def test_bad_allow_list_names_the_variable():
    env = {**os.environ, "TRAINWATCH_METRICS_ALLOW": "10.0.0.0/8,not-a-network"}
    result = subprocess.run(
        [sys.executable, "-c", "import dashboard.settings"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "TRAINWATCH_METRICS_ALLOW" in result.stderr and "not-a-network" in result.stderr
