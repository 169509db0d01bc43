"""Series points stored one chunk per UTC day: an append rewrites only the newest day; reads join the days."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs import cloudwatch_sync
from jobs.domain import cloudwatch as cw
from jobs.models import MetricSeries, SeriesChunk
from tests.cloudwatch_rows import series_points, store_series
from tests.factories import make_job

pytestmark = pytest.mark.django_db

MIDNIGHT = datetime(2026, 11, 30, tzinfo=UTC)


def _points(series: MetricSeries) -> list[cw.Point]:
    return cw.unpack_points(SeriesChunk.objects.points_of([series.pk])[series.pk])


def test_points_split_by_utc_day():
    points = [(MIDNIGHT.timestamp() - 60, 1.0), (MIDNIGHT.timestamp(), 2.0), (MIDNIGHT.timestamp() + 60, 3.0)]
    assert cw.split_by_day(points) == {
        (MIDNIGHT - timedelta(days=1)).date(): points[:1],
        MIDNIGHT.date(): points[1:],
    }


def test_an_append_touches_only_the_newest_chunk_and_crosses_midnight():
    job = make_job("chunk-job", status="InProgress")
    start = MIDNIGHT - timedelta(days=2)
    stored = series_points(start, 2 * 1440 - 2)  # up to 23:57 the day before MIDNIGHT
    series = store_series(job, "train:loss", stored)
    old = {c.day: bytes(c.points) for c in SeriesChunk.objects.filter(series=series)}
    assert len(old) == 2
    key = cw.SeriesKey(job.name, "train:loss", "")
    last = stored[-1][0]
    # The partial minute at the cursor again (now final), then three minutes: two before midnight, one after.
    new = [(last, 9.0), (last + 60, 8.0), (last + 120, 7.0), (last + 180, 6.0)]
    with CaptureQueriesContext(connection) as ctx:
        assert cloudwatch_sync._store_points(job, key, new, MIDNIGHT) == 4
    chunks = {c.day: c for c in SeriesChunk.objects.filter(series=series)}
    first_day = (MIDNIGHT - timedelta(days=2)).date()
    assert bytes(chunks[first_day].points) == old[first_day]  # an older day is never rewritten
    assert chunks[MIDNIGHT.date()].point_count == 1
    series.refresh_from_db()
    points = _points(series)
    assert points == stored[:-1] + new
    assert series.point_count == len(points) == sum(c.point_count for c in chunks.values())
    assert series.cursor == datetime.fromtimestamp(last + 180, UTC)  # newest point time per series
    assert series.last_value == 6.0
    # Lock the series, read the newest chunk, update it, create the next day's, save the series.
    writes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith(("UPDATE", "INSERT"))]
    assert len(writes) == 3
    assert all("points" not in sql.split("WHERE")[0] for sql in writes if '"jobs_metricseries"' in sql)


def test_a_first_fetch_creates_the_series_and_its_chunks():
    job = make_job("chunk-new", status="InProgress")
    key = cw.SeriesKey(job.name, "CPUUtilization", f"{job.name}/algo-1")
    points = series_points(MIDNIGHT - timedelta(minutes=3), 6)
    assert cloudwatch_sync._store_points(job, key, points, MIDNIGHT) == 6
    series = MetricSeries.objects.get()
    assert series.kind == "instance" and series.point_count == 6
    assert SeriesChunk.objects.filter(series=series).count() == 2
    assert _points(series) == points
    assert cw.unpack_points(series.display) == points


def test_past_the_cap_every_chunk_is_thinned(settings):
    settings.TRAINWATCH_SERIES_MAX_POINTS = 1000
    job = make_job("chunk-cap", status="InProgress")
    stored = series_points(MIDNIGHT - timedelta(days=1), 1000)
    series = store_series(job, "train:loss", stored)
    key = cw.SeriesKey(job.name, "train:loss", "")
    cloudwatch_sync._store_points(job, key, [(stored[-1][0] + 60, 1.0)], MIDNIGHT)
    series.refresh_from_db()
    assert series.point_count == 500 == len(_points(series))
    assert sum(SeriesChunk.objects.filter(series=series).values_list("point_count", flat=True)) == 500
