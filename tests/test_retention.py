"""Old sync history is pruned by beat, in bounded batches; recent history stays."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessLog
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs import maintenance
from jobs.models import SyncCycle, SyncError
from jobs.tasks import prune_history
from tests.factories import T0, make_source

pytestmark = pytest.mark.django_db


def history(source, *, age: timedelta, count: int = 1) -> list[SyncCycle]:
    cycles = []
    for _ in range(count):
        cycle = SyncCycle.objects.create(source=source, started_at=T0 - age, finished_at=T0 - age)
        SyncError.objects.create(source=source, cycle=cycle, kind="aws", message="x", created_at=T0 - age)
        cycles.append(cycle)
    return cycles


def test_old_cycles_and_errors_go_recent_ones_stay(settings):
    settings.TRAINWATCH_RETENTION_DAYS = 30
    a, b = make_source("a"), make_source("b")
    old = history(a, age=timedelta(days=31), count=3) + history(b, age=timedelta(days=30, seconds=1))
    recent = history(a, age=timedelta(days=29, hours=23)) + history(b, age=timedelta(hours=1), count=2)

    pruned = maintenance.prune_history(T0)

    assert pruned == {
        "sync errors": 4,
        "sync cycles": 4,
        "job changes": 0,
        "login attempts": 0,
        "login log": 0,
        "alerts": 0,
    }
    assert not SyncCycle.objects.filter(pk__in=[c.pk for c in old]).exists()
    assert set(SyncCycle.objects.values_list("pk", flat=True)) == {c.pk for c in recent}
    assert set(SyncError.objects.values_list("cycle_id", flat=True)) == {c.pk for c in recent}


def test_a_young_error_of_a_pruned_cycle_is_kept_without_its_cycle(settings):
    settings.TRAINWATCH_RETENTION_DAYS = 30
    source = make_source()
    cycle = SyncCycle.objects.create(source=source, started_at=T0 - timedelta(days=31))
    error = SyncError.objects.create(source=source, cycle=cycle, kind="aws", message="x", created_at=T0)

    maintenance.prune_history(T0)

    assert not SyncCycle.objects.exists()
    error.refresh_from_db()
    assert error.cycle_id is None


def test_deletes_in_bounded_batches(settings):
    settings.TRAINWATCH_RETENTION_DAYS = 30
    source = make_source()
    history(source, age=timedelta(days=40), count=7)

    with CaptureQueriesContext(connection) as queries:
        pruned = maintenance.prune_history(T0, batch=3)

    assert pruned == {
        "sync errors": 7,
        "sync cycles": 7,
        "job changes": 0,
        "login attempts": 0,
        "login log": 0,
        "alerts": 0,
    }
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    # 3 + 3 + 1 errors, then 3 + 3 + 1 cycles: never one statement over everything.
    assert len(deletes) == 6


def login_row(model, *, age: timedelta, ip: str = "10.0.0.1", **fields) -> int:
    row = model.objects.create(username="owner", ip_address=ip, user_agent="ua", **fields)
    model.objects.filter(pk=row.pk).update(attempt_time=T0 - age)  # attempt_time is auto_now_add
    return row.pk


def test_old_login_history_goes_a_live_lockout_stays(settings):
    settings.TRAINWATCH_RETENTION_DAYS = 1
    # A cool-off longer than the retention: its lockout must outlive the prune.
    settings.AXES_COOLOFF_TIME = timedelta(days=2)
    failures = {"failures_since_start": 5}
    login_row(AccessLog, age=timedelta(days=1, seconds=1))
    kept_log = login_row(AccessLog, age=timedelta(hours=23))
    login_row(AccessAttempt, age=timedelta(days=3, seconds=1), ip="10.0.0.2", **failures)  # past retention and cool-off
    locked = login_row(AccessAttempt, age=timedelta(days=1, hours=1), **failures)  # still in its cool-off

    pruned = maintenance.prune_history(T0)

    assert pruned["login log"] == 1 and pruned["login attempts"] == 1
    assert set(AccessLog.objects.values_list("pk", flat=True)) == {kept_log}
    assert set(AccessAttempt.objects.values_list("pk", flat=True)) == {locked}


def test_zero_days_keeps_everything(settings):
    settings.TRAINWATCH_RETENTION_DAYS = 0
    history(make_source(), age=timedelta(days=3650))

    assert maintenance.prune_history(T0) == {}
    assert SyncCycle.objects.count() == 1
    assert SyncError.objects.count() == 1


def test_the_task_prunes_against_the_real_now(settings):
    settings.TRAINWATCH_RETENTION_DAYS = 1
    source = make_source()
    SyncCycle.objects.create(source=source, started_at=timezone.now() - timedelta(days=2))
    kept = SyncCycle.objects.create(source=source, started_at=timezone.now() - timedelta(hours=23))

    assert (
        prune_history() == "sync errors: 0, sync cycles: 1, job changes: 0, login attempts: 0, login log: 0, alerts: 0"
    )
    assert list(SyncCycle.objects.all()) == [kept]


def test_beat_runs_the_prune_every_hour():
    from dashboard.celery import app

    app.finalize()
    entries = {entry["task"]: entry for entry in app.conf.beat_schedule.values()}
    assert "jobs.tasks.prune_history" in app.tasks
    entry = entries["jobs.tasks.prune_history"]
    assert entry["schedule"] == 3600.0
    assert entry["options"]["expires"] < 3600
