"""A filtered job list as CSV, streamed: the jobs page's "Download CSV" and ``/api/jobs/?format=csv``.

The rows are the list's (same filter, same order) and their values the
API's (``serializers.job_data``), so a CSV and an API page never disagree.
Each tag key, hyperparameter and final metric present in the result gets a
column: one pass reads the keys, a second writes the rows in chunks, each
chunk with one more query for its metrics (as plain tuples), so memory stays flat and the
query count grows with the chunks, not the rows. A job stored between the
two passes may carry a key that has no column: its other cells are written.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone

from jobs.costs import Prices, price_table
from jobs.domain.chunks import chunked
from jobs.domain.spreadsheet import safe_cell
from jobs.filters import JobFilter
from jobs.models import LIST_FIELDS, FinalMetric, Source, TrainingJob
from jobs.serializers import job_data

CHUNK = 1000
FIXED_COLUMNS = (
    "name",
    "arn",
    "status",
    "secondary_status",
    "failure_reason",
    "creation_time",
    "training_start_time",
    "training_end_time",
    "duration_seconds",
    "billable_seconds",
    "reported_billable_seconds",
    "billed_seconds",
    "estimated_cost",
    "cost_basis",
    "instance_type",
    "instance_count",
    "spot",
    "source",
)


@dataclass(frozen=True)
class Columns:
    """The keys present in one result, sorted: the CSV's columns after the fixed ones."""

    tags: list[str]
    hyperparameters: list[str]
    metrics: list[str]

    def header(self) -> list[str]:
        return [
            *FIXED_COLUMNS,
            *(f"tag:{key}" for key in self.tags),
            *(f"hyperparameter:{key}" for key in self.hyperparameters),
            *(f"metric:{name}" for name in self.metrics),
        ]


def columns_of(flt: JobFilter) -> Columns:
    """Every tag key, hyperparameter and metric name that a job of ``flt``'s list has."""
    tags: set[str] = set()
    hyperparameters: set[str] = set()
    for job_tags, job_hyperparameters in (
        flt.apply().order_by().values_list("tags", "hyperparameters").iterator(chunk_size=CHUNK)
    ):
        tags.update(job_tags or {})
        hyperparameters.update(job_hyperparameters or {})
    metrics = (
        FinalMetric.objects.filter(job__in=flt.apply().order_by().values("pk"))
        .order_by("name")
        .values_list("name", flat=True)
        .distinct()
    )
    return Columns(sorted(tags), sorted(hyperparameters), list(metrics))


def _duration(job: TrainingJob, now: datetime) -> int | None:
    """Training seconds, start to end (to now while running), per instance."""
    if job.training_start_time is None:
        return None
    end = job.training_end_time or (now if job.is_running else None)
    return None if end is None else max(0, int((end - job.training_start_time).total_seconds()))


def row_of(
    job: TrainingJob, columns: Columns, prices: Prices, now: datetime, final_metrics: list[dict[str, Any]]
) -> list[Any]:
    data = job_data(job, prices, now, final_metrics)
    data["duration_seconds"] = _duration(job, now)
    data["spot"] = job.is_spot
    metrics = {metric["name"]: metric["value"] for metric in data["final_metrics"]}
    tags = job.tags or {}
    hyperparameters = job.hyperparameters or {}
    cells = [
        *(data[name] for name in FIXED_COLUMNS),
        *(tags.get(key) for key in columns.tags),
        *(hyperparameters.get(key) for key in columns.hyperparameters),
        *(metrics.get(name) for name in columns.metrics),
    ]
    return [safe_cell(cell) for cell in cells]


class _Line:
    """A file-like object that hands back what csv.writer writes (Django's streaming CSV recipe)."""

    def write(self, value: str) -> str:
        return value


def csv_lines(flt: JobFilter, now: datetime | None = None) -> Iterator[str]:
    """The CSV of ``flt``'s list, a line at a time."""
    now = now or timezone.now()
    columns = columns_of(flt)
    writer = csv.writer(_Line())
    yield writer.writerow(columns.header())
    prices = price_table()
    # The few sources once, not joined and built again for every row.
    sources = {source.pk: source for source in Source.objects.all()}
    fields = [name for name in LIST_FIELDS if not name.startswith("source__")]
    jobs = flt.apply().only(*fields, "source_id", "hyperparameters")
    for chunk in chunked(jobs.iterator(chunk_size=CHUNK), CHUNK):
        metrics = FinalMetric.objects.by_job([job.pk for job in chunk])
        for job in chunk:
            job.source = sources[job.source_id]
            yield writer.writerow(row_of(job, columns, prices, now, metrics[job.pk]))


def csv_response(flt: JobFilter, filename: str = "trainwatch-jobs.csv") -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(flt), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
