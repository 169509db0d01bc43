"""Migration 0022 moves each series' points from its row into one chunk per UTC day, and back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from jobs.domain import cloudwatch as cw

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("jobs", "0021_tuning_job")]
AFTER = [("jobs", "0022_series_chunks")]


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def test_existing_points_are_split_by_day_and_joined_back():
    apps = _migrate(BEFORE)
    try:
        Source = apps.get_model("jobs", "Source")
        Job = apps.get_model("jobs", "TrainingJob")
        Series = apps.get_model("jobs", "MetricSeries")
        source = Source.objects.create(name="m", region="us-east-1")
        start = datetime(2026, 11, 30, 22, tzinfo=UTC).timestamp()
        points = [(start + 60 * i, float(i)) for i in range(300)]  # 22:00 to 02:59 the next day
        job = Job.objects.create(
            source=source, name="mig-1", arn="arn:mig-1", status="InProgress", creation_time=datetime.now(UTC), raw={}
        )
        series = Series.objects.create(job=job, kind="algorithm", name="train:loss", points=cw.pack_points(points))
        empty = Series.objects.create(job=job, kind="algorithm", name="train:acc", points=b"")

        apps = _migrate(AFTER)
        Chunk = apps.get_model("jobs", "SeriesChunk")
        days = list(Chunk.objects.filter(series_id=series.pk).order_by("day").values_list("day", "point_count"))
        assert [count for _, count in days] == [120, 180]
        parts = Chunk.objects.filter(series_id=series.pk).order_by("day").values_list("points", flat=True)
        joined = b"".join(bytes(p) for p in parts)
        assert cw.unpack_points(joined) == points
        assert not Chunk.objects.filter(series_id=empty.pk).exists()

        apps = _migrate(BEFORE)
        Series = apps.get_model("jobs", "MetricSeries")
        assert cw.unpack_points(Series.objects.get(pk=series.pk).points) == points
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("jobs"))
