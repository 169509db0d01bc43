"""Jobs side by side: configuration, cost, hyperparameters, final metrics, timelines and curves.

A fixed number of queries whatever the number of jobs (the jobs with their
source, their transitions, their final metrics, the price table and the
algorithm series), and every figure from the functions the list and the API
use (``jobs.serializers.job_data``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from jobs.costs import price_table
from jobs.domain import charts, compare, timeline_chart
from jobs.domain import cloudwatch as cw
from jobs.models import MetricSeries, SeriesKind, TrainingJob
from jobs.serializers import job_data
from jobs.views.jobs_list import _duration_seconds

MIN_JOBS = 2
MAX_JOBS = 20
GRAPHS_TEMPLATE = "jobs/partials/compare_graphs.html"
_ID = re.compile(r"[0-9]{1,19}")


class BadSelection(ValueError):
    """The ``ids`` asked for cannot be compared; the message says why, for the page."""


@dataclass(frozen=True)
class Row:
    """One line of the comparison: a label and a value per job, in the jobs' order."""

    label: str
    values: list[Any]
    differs: bool = False
    best: frozenset[int] = frozenset()
    lower_is_better: bool = False

    @property
    def cells(self) -> list[tuple[Any, bool]]:
        return [(value, i in self.best) for i, value in enumerate(self.values)]


def selected_ids(values: list[str]) -> list[int]:
    """The job ids of ``?ids=1,2,3`` (or ``?ids=1&ids=2``), in order, each once.

    Raises ``BadSelection`` for anything but 2 to 20 plain ASCII ids.
    """
    _low, high = connection.ops.integer_field_range(TrainingJob._meta.pk.get_internal_type())
    high = high if high is not None else 2**63 - 1
    ids: list[int] = []
    for part in (p.strip() for value in values for p in value.split(",")):
        if not part:
            continue
        if not _ID.fullmatch(part) or not 0 < int(part) <= high:
            raise BadSelection(f"{part[:40]!r} is not a job id.")
        if int(part) not in ids:
            ids.append(int(part))
    if len(ids) < MIN_JOBS:
        raise BadSelection(f"Select at least {MIN_JOBS} jobs to compare ({len(ids)} selected).")
    if len(ids) > MAX_JOBS:
        raise BadSelection(f"Compare at most {MAX_JOBS} jobs at once ({len(ids)} selected).")
    return ids


def _jobs(ids: list[int]) -> list[TrainingJob]:
    found = {
        job.pk: job
        for job in TrainingJob.objects.filter(pk__in=ids)
        .select_related("source")
        .prefetch_related("transitions", "metrics")
    }
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise BadSelection(f"No job with id {', '.join(missing)}.")
    return [found[i] for i in ids]


def _hyperparameter_rows(jobs: list[TrainingJob]) -> list[Row]:
    params = [job.hyperparameters if isinstance(job.hyperparameters, dict) else {} for job in jobs]
    rows = []
    for key in compare.union_keys(params):
        values = [None if p.get(key) is None else str(p.get(key)) for p in params]
        rows.append(Row(key, values, differs=compare.differs(values)))
    return rows


def _metric_rows(data: list[dict[str, Any]]) -> list[Row]:
    by_job = [{m["name"]: m["value"] for m in d["final_metrics"]} for d in data]
    rows = []
    for name in compare.union_keys(by_job):
        values = [values.get(name) for values in by_job]
        rows.append(
            Row(
                name,
                values,
                differs=compare.differs(values),
                best=frozenset(compare.best_indexes(name, values)),
                lower_is_better=compare.lower_is_better(name),
            )
        )
    return rows


def _timelines(jobs: list[TrainingJob], now: datetime) -> list[tuple[TrainingJob, timeline_chart.Chart]]:
    steps = {job.pk: [t.as_domain() for t in job.transitions.all()] for job in jobs}
    span = timeline_chart.time_span(
        [
            (job.creation_time, steps[job.pk], job.training_start_time, job.training_end_time, job.is_running)
            for job in jobs
        ],
        now,
    )
    return [
        (
            job,
            timeline_chart.layout(
                steps[job.pk],
                creation_time=job.creation_time,
                training_start_time=job.training_start_time,
                training_end_time=job.training_end_time,
                max_runtime_seconds=job.max_runtime_seconds,
                running=job.is_running,
                now=now,
                span=span,
            ),
        )
        for job in jobs
    ]


def _elapsed(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}"


def _curves(jobs: list[TrainingJob]) -> list[charts.Chart]:
    """One chart per algorithm metric name, one line per job, on time since each job's training start.

    Jobs run at different times: their curves overlay only on elapsed time.
    """
    series = MetricSeries.objects.filter(job__in=jobs, kind=SeriesKind.ALGORITHM).only("job_id", "name", "display")
    names: dict[str, dict[int, list[cw.Point]]] = {}
    for row in series:
        names.setdefault(row.name, {})[row.job_id] = cw.unpack_points(row.display)
    out = []
    for name in sorted(names):
        lines = []
        for job in jobs:
            points = names[name].get(job.pk)
            if not points:
                continue
            origin = (job.training_start_time or job.creation_time).timestamp()
            lines.append((job.name, [(x - origin, y) for x, y in points]))
        xs = [x for _, pts in lines for x, _ in pts]
        x_range = (min(0.0, min(xs)), max(xs)) if xs else None
        out.append(charts.line_chart(name, lines, x_range=x_range, x_label=_elapsed))
    return out


def _refuse(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "jobs/compare.html", {"error": message, "max_jobs": MAX_JOBS}, status=400)


@login_required
@require_GET
def compare_jobs(request: HttpRequest) -> HttpResponse:
    raw = request.GET.getlist("ids")
    if not any(value.strip(", ") for value in raw):
        # No selection yet: say how to make one (a page, not an error).
        return render(request, "jobs/compare.html", {"jobs": [], "max_jobs": MAX_JOBS})
    try:
        jobs = _jobs(selected_ids(raw))
    except BadSelection as error:
        return _refuse(request, str(error))
    now = timezone.now()
    prices = price_table()
    data = [job_data(job, prices, now) for job in jobs]
    columns = [
        {"job": job, "data": d, "duration_seconds": _duration_seconds(job, now)}
        for job, d in zip(jobs, data, strict=True)
    ]
    # Jinja2 like the job page's timeline and charts, whose macros it reuses.
    graphs_html = render_to_string(
        GRAPHS_TEMPLATE, {"timelines": _timelines(jobs, now), "curves": _curves(jobs), "now": now}, using="jinja2"
    )
    ctx = {
        "jobs": jobs,
        "columns": columns,
        "hyperparameters": _hyperparameter_rows(jobs),
        "metrics": _metric_rows(data),
        "graphs_html": mark_safe(graphs_html),
        "now": now,
        "max_jobs": MAX_JOBS,
    }
    return render(request, "jobs/compare.html", ctx)
