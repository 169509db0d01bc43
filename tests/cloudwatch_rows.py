"""Stored CloudWatch rows for page tests and benchmarks, written as the sync writes them."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from jobs.domain import cloudwatch as cw
from jobs.models import LogTail, MetricSeries, SeriesChunk, SeriesKind, TrainingJob


def series_points(start: datetime, count: int, *, base: float = 50.0, slope: float = 0.0) -> list[cw.Point]:
    t0 = start.timestamp()
    return [(t0 + 60 * i, base + slope * i + 10 * math.sin(i / 37)) for i in range(count)]


def store_series(job: TrainingJob, name: str, points: list[cw.Point], host: str = "") -> MetricSeries:
    series = MetricSeries.objects.create(
        job=job,
        kind=SeriesKind.INSTANCE if host else SeriesKind.ALGORITHM,
        name=name,
        host=host,
        point_count=len(points),
        cursor=datetime.fromtimestamp(points[-1][0], tz=job.creation_time.tzinfo) if points else None,
        display=cw.pack_points(cw.lttb(points, cw.DISPLAY_POINTS)),
        last_value=points[-1][1] if points else None,
    )
    SeriesChunk.objects.bulk_create(
        SeriesChunk(series=series, day=day, points=cw.pack_points(pts), point_count=len(pts))
        for day, pts in cw.split_by_day(points).items()
    )
    return series


def store_full_job(job: TrainingJob, start: datetime, points: int, *, hosts: int = 8, metrics: int = 6) -> None:
    """hosts x 5 utilization series + ``metrics`` algorithm series of ``points`` points each."""
    names = [f"{'train' if i % 2 == 0 else 'validation'}:m{i // 2}" for i in range(metrics)]
    for name in names:
        store_series(job, name, series_points(start, points, base=10, slope=-0.0001))
    for n in range(1, hosts + 1):
        for metric in cw.INSTANCE_METRICS:
            store_series(job, metric, series_points(start, points), host=f"{job.name}/algo-{n}")


def store_tail(job: TrainingJob, host: str, messages: list[str], *, at: datetime | None = None) -> LogTail:
    ms = int((at or job.creation_time).timestamp() * 1000)
    lines = cw.log_lines([{"timestamp": ms + i, "message": m} for i, m in enumerate(messages)])
    return LogTail.objects.create(
        job=job,
        stream=f"{job.name}/{host}-1700000000",
        host=host,
        forward_token="f/1",
        lines=cw.tail([], lines, 1000),
        events_seen=len(messages),
        last_event_at=(at or job.creation_time) + timedelta(seconds=1),
    )
