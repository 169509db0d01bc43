"""A real Celery worker on real Redis sends the alerts a store decided, over real HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import AlertKind, AlertRule, Delivery, DeliveryStatus
from alerts.tasks import deliver_alerts
from jobs import ingest
from jobs.domain.parse import parse_training_job
from tests import alert_receiver
from tests.factories import T0, describe_response, make_source
from tests.integration.test_celery_sync import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_worker_sends_a_decided_alert_once(celery_worker, settings):
    receiver = alert_receiver.start()
    try:
        settings.TRAINWATCH_ALERT_URLS = [receiver.url]
        settings.TRAINWATCH_ALERT_QUIET_SECONDS = 0
        # Synced just now: a stale source would (rightly) add a source-health post to the sweep.
        source = make_source(last_success_at=timezone.now())
        AlertRule.objects.create(name="failed", kind=AlertKind.FAILED, created_at=T0 - timedelta(days=1))
        for status in ("InProgress", "Failed"):
            raw = describe_response("worker-fail", status=status)
            ingest.store_description(source, parse_training_job(raw), raw, now=timezone.now())
        deliver_alerts.delay()
        wait_for(lambda: len(receiver.posts) == 1, what="the webhook post")
        wait_for(lambda: Delivery.objects.get().status == DeliveryStatus.SENT, what="the delivery marked sent")
        assert Delivery.objects.get().attempts == 1 and len(receiver.posts) == 1
        assert receiver.posts[0].body["trainwatch"]["jobs"][0]["name"] == "worker-fail"
    finally:
        receiver.close()
