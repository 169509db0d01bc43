"""sync_jobs against the simulated account: history sends nothing, fresh failures are posted inline, no broker."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from alerts.models import Alert, AlertKind, AlertRule, Delivery, DeliveryStatus
from jobs.models import Source, TrainingJob
from simulator import SimulatedSageMaker
from tests import alert_receiver

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_sync_jobs_sends_nothing_for_history_then_posts_the_fresh_failures(aws_env, settings):
    receiver = alert_receiver.start()
    settings.TRAINWATCH_DEFAULT_SOURCE = False
    settings.TRAINWATCH_LOOKBACK_DAYS = 60
    settings.AWS_MAX_ATTEMPTS = 1
    settings.TRAINWATCH_ALERT_URLS = [receiver.url]
    # The built-in job-event rules, as if Trainwatch was installed when the simulated
    # account's clock began (the time-based rules, MaxRuntime share and stalls, keep today's
    # date: decided against the real clock, never fire here).
    time_based = [AlertKind.NEAR_MAX_RUNTIME, AlertKind.STALLED, AlertKind.METRICS_STALLED]
    AlertRule.objects.exclude(kind__in=time_based).update(created_at=START - timedelta(days=90))
    try:
        with SimulatedSageMaker(jobs=300, seed=5, speed=0, start=START) as sim:
            Source.objects.create(name="sim", region="us-east-1", endpoint_url=sim.endpoint_url)
            call_command("sync_jobs", stdout=io.StringIO())
            history = set(TrainingJob.objects.terminal().values_list("pk", flat=True))
            assert history and not Alert.objects.exists() and receiver.posts == []
            sim.clock.advance(3 * 86400)
            out = io.StringIO()
            call_command("sync_jobs", stdout=out)
    finally:
        receiver.close()
    alerted = set(Alert.objects.values_list("job_id", flat=True))
    assert alerted and not alerted & history
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    posted = [j["name"] for p in receiver.posts for j in p.body["trainwatch"]["jobs"]]
    assert sorted(posted) == sorted(Alert.objects.values_list("job__name", flat=True))
    assert len(receiver.posts) == Alert.objects.values("rule").distinct().count()  # one message per rule
    assert "alerts: sent" in out.getvalue()
