"""What the job page shows of CloudWatch: charts laid out from stored series, log tails. Reads only the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

from jobs.domain import charts
from jobs.domain import cloudwatch as cw
from jobs.models import CloudWatchFetch, LogTail, MetricSeries, StatusTransition, TrainingJob, TrainingJobStatus

UTILIZATION_LABELS = {
    "CPUUtilization": "CPU",
    "MemoryUtilization": "memory",
    "GPUUtilization": "GPU",
    "GPUMemoryUtilization": "GPU memory",
    "DiskUtilization": "disk",
}
# Phases shaded behind the curves: where the time went.
SHADED = frozenset({"Starting", "Downloading", "Training", "Uploading"})


@dataclass(frozen=True)
class HostLog:
    host: str
    stream: str
    url: str
    lines: list[tuple[str, str, int]]  # (HH:MM:SS UTC, text, cut from this many characters or 0)
    events_seen: int
    error_at: int | None = None  # the line a failed job's tail opens on


@dataclass(frozen=True)
class CloudWatchPanel:
    metric_charts: list[charts.Chart]
    host_charts: list[charts.Chart]
    logs: list[HostLog]
    fetch: CloudWatchFetch | None

    @property
    def has_error(self) -> bool:
        return any(log.error_at is not None for log in self.logs)

    @property
    def empty(self) -> bool:
        return not (self.metric_charts or self.host_charts or self.logs)


def _phases(transitions: list[StatusTransition], now: datetime) -> list[tuple[float, float, str]]:
    return [
        (t.start_time.timestamp(), (t.end_time or now).timestamp(), t.status) for t in transitions if t.status in SHADED
    ]


def panel(job: TrainingJob, transitions: list[StatusTransition], *, region: str, now: datetime) -> CloudWatchPanel:
    """Two queries, however many points or lines: the display copies and the tails."""
    rows = list(
        MetricSeries.objects.filter(job=job)
        .only("kind", "name", "host", "display", "last_value")
        .order_by("kind", "host", "name")
    )
    tails = list(LogTail.objects.filter(job=job).order_by("host", "stream"))
    try:
        fetch = job.cloudwatch
    except CloudWatchFetch.DoesNotExist:
        fetch = None
    drawn = {row.pk: cw.unpack_points(row.display) for row in rows}
    xs = [p[0] for points in drawn.values() for p in points[:1] + points[-1:]]
    x_range = (min(xs), max(xs)) if xs else None
    phases = _phases(transitions, now)

    def pts(row: MetricSeries) -> list[cw.Point]:
        return drawn[row.pk]

    algorithm = sorted((r for r in rows if not r.host), key=lambda r: (charts.metric_group(r.name), r.name))
    metric_charts = [
        charts.line_chart(group, [(r.name, pts(r)) for r in members], x_range=x_range, phases=phases)
        for group, members in ((g, list(m)) for g, m in groupby(algorithm, key=lambda r: charts.metric_group(r.name)))
    ]
    order = list(UTILIZATION_LABELS)
    instance = sorted(
        (r for r in rows if r.host),
        key=lambda r: (_host_number(r.host), order.index(r.name) if r.name in order else 99),
    )
    host_charts = [
        charts.line_chart(
            host.rsplit("/", 1)[-1],
            [(UTILIZATION_LABELS.get(r.name, r.name), pts(r)) for r in members],
            unit="%",
            x_range=x_range,
            y_floor=0,
            y_ceiling=100,
            phases=phases,
        )
        for host, members in ((h, list(m)) for h, m in groupby(instance, key=lambda r: r.host))
    ]
    logs = []
    for tail in tails:
        lines = [
            (_at(line), str(line[1]), _cut(line)) for line in tail.lines if isinstance(line, list) and len(line) == 3
        ]
        error_at = cw.error_line([text for _, text, _ in lines]) if job.status == TrainingJobStatus.FAILED else None
        logs.append(
            HostLog(tail.host, tail.stream, cw.log_stream_url(region, tail.stream), lines, tail.events_seen, error_at)
        )
    return CloudWatchPanel(metric_charts, host_charts, logs, fetch)


def _host_number(host: str) -> tuple[int, str]:
    tail = host.rsplit("-", 1)[-1]
    return (int(tail), host) if tail.isdigit() else (0, host)


def _at(line: list[Any]) -> str:
    # Arithmetic, not strftime: a thousand lines a host, eight hosts a page.
    if not isinstance(line[0], int) or line[0] <= 0:
        return ""
    seconds = line[0] // 1000 % 86400
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _cut(line: list[Any]) -> int:
    return line[2] if isinstance(line[2], int) and line[2] > len(str(line[1])) else 0
