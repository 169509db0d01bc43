"""DescribeHyperParameterTuningJob and ListTrainingJobsForHyperParameterTuningJob for the simulated tuning jobs.

A tuning job is a block of consecutive jobs launched together (see
``population.TUNING_BLOCK``); its trials are found by the name prefix they
share, among the jobs that exist at the asked time, and everything it
reports is derived from their own describes, so the two always agree.
"""

from __future__ import annotations

import bisect
from typing import Any

from .account import Account, ApiError
from .operations import TERMINAL, _int, _invalid
from .population import TUNING_BLOCK

MAX_PARALLEL = 4
LOWER_IS_BETTER = ("loss", "error", "rmse", "mae", "mse")


def _tuning_name(p: dict[str, Any]) -> str:
    name = p.get("HyperParameterTuningJobName")
    if not isinstance(name, str) or not name:
        raise _invalid(
            "1 validation error detected: Value null at 'hyperParameterTuningJobName' failed to satisfy "
            "constraint: Member must not be null"
        )
    return name


def _trials(acct: Account, name: str, t: float) -> list[dict[str, Any]]:
    """The describes of the tuning job's trials that exist at ``t``, oldest first; ResourceNotFound if none."""
    pairs = acct.population.names_sorted(acct.count(t))
    prefix = f"{name}-"
    found = []
    for job_name, i in pairs[bisect.bisect_left(pairs, (prefix, -1)) :]:
        if not job_name.startswith(prefix):
            break
        if acct.population.plan(i).tuner == name:
            found.append(i)
    if not found:
        raise ApiError("ResourceNotFound", f"Amazon SageMaker can't find a tuning job with name {name}")
    return [acct.describe(i, t) for i in sorted(found)]


def _objective(trials: list[dict[str, Any]]) -> dict[str, str]:
    metric = str(trials[0].get("HyperParameters", {}).get("_tuning_objective_metric", "")).strip('"')
    kind = "Minimize" if any(word in metric.lower() for word in LOWER_IS_BETTER) else "Maximize"
    return {"Type": kind, "MetricName": metric}


def _final_value(trial: dict[str, Any], metric: str) -> float | None:
    for item in trial.get("FinalMetricDataList") or []:
        if item.get("MetricName") == metric:
            return float(item["Value"])
    return None


def _tuned(trial: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in (trial.get("HyperParameters") or {}).items() if not k.startswith(("_", "sagemaker_"))}


def _summary(trial: dict[str, Any], objective: dict[str, str]) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "TrainingJobName": trial["TrainingJobName"],
        "TrainingJobArn": trial["TrainingJobArn"],
        "TuningJobName": trial["TuningJobArn"].rsplit("/", 1)[-1],
        "CreationTime": trial["CreationTime"],
        "TrainingJobStatus": trial["TrainingJobStatus"],
        "TunedHyperParameters": _tuned(trial),
    }
    for key in ("TrainingStartTime", "TrainingEndTime"):
        if trial.get(key) is not None:
            summary[key] = trial[key]
    value = _final_value(trial, objective["MetricName"])
    if value is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {**objective, "Value": value}
        summary["ObjectiveStatus"] = "Succeeded"
    else:
        summary["ObjectiveStatus"] = "Pending" if trial["TrainingJobStatus"] not in TERMINAL else "Failed"
    return summary


def describe_hyper_parameter_tuning_job(acct: Account, p: dict[str, Any]) -> dict[str, Any]:
    t = acct.clock.timestamp()
    name = _tuning_name(p)
    trials = _trials(acct, name, t)
    objective = _objective(trials)
    statuses = [trial["TrainingJobStatus"] for trial in trials]
    running = sum(status not in TERMINAL for status in statuses)
    summaries = [_summary(trial, objective) for trial in trials]
    finished = not running and len(trials) == TUNING_BLOCK
    out: dict[str, Any] = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobArn": trials[0]["TuningJobArn"],
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": objective,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": TUNING_BLOCK, "MaxParallelTrainingJobs": MAX_PARALLEL},
        },
        "HyperParameterTuningJobStatus": "Completed" if finished else "InProgress",
        "CreationTime": trials[0]["CreationTime"],
        "LastModifiedTime": max(trial["LastModifiedTime"] for trial in trials),
        "TrainingJobStatusCounters": {
            "Completed": statuses.count("Completed"),
            "InProgress": running,
            "RetryableError": 0,
            "NonRetryableError": statuses.count("Failed"),
            "Stopped": statuses.count("Stopped"),
        },
        "ObjectiveStatusCounters": {
            "Succeeded": sum(s["ObjectiveStatus"] == "Succeeded" for s in summaries),
            "Pending": sum(s["ObjectiveStatus"] == "Pending" for s in summaries),
            "Failed": sum(s["ObjectiveStatus"] == "Failed" for s in summaries),
        },
    }
    if finished:
        out["HyperParameterTuningEndTime"] = max(trial.get("TrainingEndTime") or 0 for trial in trials)
    scored = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
    if scored:
        sign = 1 if objective["Type"] == "Minimize" else -1
        out["BestTrainingJob"] = min(
            scored, key=lambda s: sign * s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        )
    return out


def list_training_jobs_for_hyper_parameter_tuning_job(acct: Account, p: dict[str, Any]) -> dict[str, Any]:
    t = acct.clock.timestamp()
    trials = _trials(acct, _tuning_name(p), t)
    objective = _objective(trials)
    size = _int(p, "MaxResults", 10, 1, 100)
    token = p.get("NextToken")
    start = int(token) if isinstance(token, str) and token.isdigit() else 0
    page = [_summary(trial, objective) for trial in trials[start : start + size]]
    out: dict[str, Any] = {"TrainingJobSummaries": page}
    if start + size < len(trials):
        out["NextToken"] = str(start + size)
    return out


OPERATIONS = {
    "DescribeHyperParameterTuningJob": describe_hyper_parameter_tuning_job,
    "ListTrainingJobsForHyperParameterTuningJob": list_training_jobs_for_hyper_parameter_tuning_job,
}
