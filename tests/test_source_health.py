"""Source.health(now): the one freshness rule behind /healthz, the status page and the admin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from jobs import sync
from jobs.domain.health import SyncState, source_health
from jobs.models import Source, SyncCycle
from tests.factories import make_source

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def health(**kwargs):
    defaults = {"last_success_at": None, "last_error": "", "now": NOW, "interval_seconds": 60}
    return source_health(**(defaults | kwargs))


def test_fresh_within_three_intervals():
    h = health(last_success_at=NOW - timedelta(seconds=180))
    assert h.state is SyncState.OK and h.ok and h.synced_recently
    assert h.age_seconds == 180 and h.late_after_seconds == 180


def test_stale_after_three_intervals():
    h = health(last_success_at=NOW - timedelta(seconds=181))
    assert h.state is SyncState.STALE and not h.ok and not h.synced_recently
    assert h.state.label == "stale"
    assert h.reason == "last success 3 min 1 s ago, more than 3 sync intervals (3 min)"


def test_never_synced():
    h = health()
    assert h.state is SyncState.NEVER and h.age_seconds is None and not h.synced_recently
    assert h.state.label == "never synced"


def test_failing_outranks_age_but_a_recent_success_still_counts():
    h = health(last_success_at=NOW - timedelta(seconds=30), last_error="ListTrainingJobs failed: Throttling")
    assert h.state is SyncState.FAILING and not h.ok
    # One failed cycle right after a success: data is still fresh for /healthz.
    assert h.synced_recently
    # The reason is shown publicly: never AWS's text.
    assert "Throttling" not in h.reason
    assert not health(last_error="boom").synced_recently


def test_success_in_the_future_is_fresh():
    h = health(last_success_at=NOW + timedelta(seconds=20))
    assert h.state is SyncState.OK and h.age_seconds == 0


def test_interval_comes_from_settings(db, settings):
    settings.TRAINWATCH_SYNC_INTERVAL = 10
    source = make_source(last_success_at=NOW - timedelta(seconds=31))
    assert source.health(NOW).state is SyncState.STALE
    settings.TRAINWATCH_SYNC_INTERVAL = 11
    assert source.health(NOW).state is SyncState.OK


@pytest.mark.django_db(transaction=True)
def test_a_cycle_left_unfinished_is_not_a_success(settings):
    settings.TRAINWATCH_SYNC_INTERVAL = 60
    source = make_source(last_success_at=NOW - timedelta(seconds=100))
    # A worker killed mid-cycle: started, never finished.
    SyncCycle.objects.create(source=source, started_at=NOW - timedelta(seconds=90))
    Source.objects.filter(pk=source.pk).update(last_sync_started_at=NOW - timedelta(seconds=90))
    source.refresh_from_db()
    assert source.health(NOW).state is SyncState.OK
    assert source.health(NOW + timedelta(seconds=81)).state is SyncState.STALE
    # A cycle that does finish cleanly makes it fresh again.
    with time_machine.travel(NOW + timedelta(seconds=81), tick=False):
        cycle = SyncCycle.objects.create(source=source, started_at=timezone.now())
        sync._finish(source, cycle)
    source.refresh_from_db()
    assert source.health(NOW + timedelta(seconds=81)).state is SyncState.OK


def test_admin_source_list_shows_health(admin_client: Client, settings):
    settings.TRAINWATCH_SYNC_INTERVAL = 60
    make_source("fresh-one", last_success_at=NOW - timedelta(seconds=20))
    make_source("stale-one", last_success_at=NOW - timedelta(hours=2))
    make_source("failing-one", last_success_at=NOW - timedelta(seconds=20), last_error="boom")
    make_source("new-one")
    make_source("off-one", enabled=False)
    with time_machine.travel(NOW, tick=False):
        body = admin_client.get("/admin/jobs/source/").content.decode()
    for badge, label in (
        ("completed", "ok"),
        ("stopping", "stale"),
        ("failed", "failing"),
        ("unknown", "never synced"),
    ):
        assert f'class="tw-badge tw-{badge}"' in body
        assert f">{label}</span>" in body
    assert "last success 2 h ago" in body
    assert ">disabled</span>" in body
