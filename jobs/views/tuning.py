"""A hyperparameter tuning job: its trials, the best one by the objective, and the objective per hyperparameter.

The trials are the training jobs whose TuningJobArn ends in the job's name.
The objective is chosen on the page (``?objective=&direction=``): reading it
from DescribeHyperParameterTuningJob is not built yet. A fixed number of
queries whatever the number of trials (the trials with their source, their
final metrics, the price table).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from jobs.costs import price_table
from jobs.domain import tuning
from jobs.models import TrainingJob, TrainingJobStatus, TuningJob
from jobs.serializers import job_data
from jobs.views.jobs_list import _duration_seconds

SORTS = ("objective", "-objective")


def _trials(name: str) -> list[TrainingJob]:
    suffix = tuning.arn_suffix(name)
    trials = [
        job
        for job in TrainingJob.objects.filter(tuning_job_arn__endswith=suffix)
        .select_related("source")
        .prefetch_related("metrics")
        .order_by("creation_time", "pk")
        # SQLite's LIKE ignores ASCII case; PostgreSQL's does not: match as PostgreSQL does on both.
        if job.tuning_job_arn.endswith(suffix)
    ]
    if not trials:
        raise Http404("No training job belongs to this tuning job.")
    return trials


def _progress(trials: list[TrainingJob], costs: list[float | None]) -> dict[str, Any]:
    counts = Counter(job.status for job in trials)
    return {
        "total": len(trials),
        "completed": counts[TrainingJobStatus.COMPLETED],
        "failed": counts[TrainingJobStatus.FAILED],
        "stopped": counts[TrainingJobStatus.STOPPED],
        "running": counts[TrainingJobStatus.IN_PROGRESS] + counts[TrainingJobStatus.STOPPING],
        "cost": sum(c for c in costs if c is not None) if any(c is not None for c in costs) else None,
    }


@login_required
@require_GET
def tuning_job(request: HttpRequest, name: str) -> HttpResponse:
    trials = _trials(name)
    now = timezone.now()
    prices = price_table()
    data = [job_data(job, prices, now) for job in trials]
    metrics = [{m["name"]: m["value"] for m in d["final_metrics"]} for d in data]
    metric_names = sorted({key for m in metrics for key in m})

    params = [job.hyperparameters if isinstance(job.hyperparameters, dict) else {} for job in trials]
    described = TuningJob.objects.filter(arn=trials[0].tuning_job_arn).first()
    own = described.objective_metric if described and described.objective_metric in metric_names else ""
    chosen = request.GET.get("objective", "")
    objective = chosen if chosen in metric_names else own or tuning.default_objective(metric_names, params)
    direction = request.GET.get("direction", "")
    if direction not in ("min", "max") and own and objective == own and described.minimizes is not None:
        direction = "min" if described.minimizes else "max"
    minimize = tuning.minimizes(objective, direction)
    values = [m.get(objective) for m in metrics]
    best = tuning.best_index(values, minimize=minimize)

    keys = tuning.numeric_keys(params)
    rows = [
        {
            "job": job,
            "data": d,
            "objective": value,
            "params": [tuning.as_number(p.get(key)) for key in keys],
            "duration_seconds": _duration_seconds(job, now),
            "best": i == best,
        }
        for i, (job, d, value, p) in enumerate(zip(trials, data, values, params, strict=True))
    ]
    sort = request.GET.get("sort", "")
    if sort in SORTS:
        rows = [rows[i] for i in tuning.sort_positions(values, descending=sort == "-objective")]
    else:
        sort = ""

    best_label = trials[best].name if best is not None else ""
    plots = [
        tuning.scatter(
            key,
            [
                (x, y, job.name)
                for job, p, y in zip(trials, params, values, strict=True)
                if y is not None and (x := tuning.as_number(p.get(key))) is not None
            ],
            best_label=best_label,
        )
        for key in keys
    ]
    ctx = {
        "name": name,
        "arn": trials[0].tuning_job_arn,
        "described": described,
        "rows": rows,
        "keys": keys,
        "metric_names": metric_names,
        "objective": objective,
        "direction": "min" if minimize else "max",
        "sort": sort,
        "next_sort": "-objective" if sort == "objective" else "objective",
        "best": trials[best] if best is not None else None,
        "best_value": values[best] if best is not None else None,
        "best_params": sorted(params[best].items()) if best is not None else [],
        "progress": _progress(trials, [d["estimated_cost"] for d in data]),
        "plots": plots,
        "now": now,
    }
    return render(request, "jobs/tuning.html", ctx)
