"""What the sync must describe: the right jobs, found through indexes at any size."""

from datetime import timedelta

import pytest
from django.db import connection

from jobs.maintenance import optimize_database
from jobs.models import TrainingJob
from tests.factories import T0, arn_of, make_job

pytestmark = pytest.mark.django_db


def _due_names(source) -> list[str]:
    return sorted(source.jobs.needing_describe().values_list("name", flat=True))


def test_due_jobs_are_new_changed_running_or_in_an_unknown_status(source):
    make_job("done", status="Completed")
    make_job("failed", status="Failed")
    make_job("busy", status="InProgress")
    make_job("odd", status="Pausing")  # a status AWS may add: followed until it ends
    changed = make_job("changed", status="Stopped")
    TrainingJob.objects.filter(pk=changed.pk).update(last_modified_time=changed.last_modified_time + timedelta(1))
    TrainingJob.objects.create(source=source, arn=arn_of("new"), name="new", status="Completed", creation_time=T0)
    assert _due_names(source) == ["busy", "changed", "new", "odd"]


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's plan; PostgreSQL plans a BitmapOr over the same indexes"
)
def test_the_due_query_searches_indexes_and_never_scans_the_jobs(source):
    # Enough finished, described jobs that walking them all would cost.
    TrainingJob.objects.bulk_create(
        TrainingJob(
            source=source,
            arn=arn_of(f"done-{i}"),
            name=f"done-{i}",
            status="Completed",
            creation_time=T0,
            last_modified_time=T0,
            described_at=T0,
            described_last_modified_time=T0,
        )
        for i in range(5000)
    )
    make_job("busy", status="InProgress")
    optimize_database()  # statistics, as the hourly task keeps them
    plan = source.jobs.needing_describe().values_list("creation_time", "name").explain()
    assert "MULTI-INDEX OR" in plan
    assert "job_never_described_idx" in plan and "job_changed_idx" in plan and "job_source_status_idx" in plan
    assert "SCAN jobs_trainingjob" not in plan and "TEMP B-TREE" not in plan


def test_beat_refreshes_the_planner_statistics_hourly(source):
    from dashboard.celery import app
    from jobs.tasks import optimize_database as task

    entry = app.conf.beat_schedule["optimize the database"]
    assert entry["task"] == "jobs.tasks.optimize_database" and entry["schedule"] == 3600
    make_job("busy", status="InProgress")
    assert task.apply().get() == "optimized"
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'jobs_trainingjob'")
            assert cursor.fetchone()[0] > 0
