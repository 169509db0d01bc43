"""The simulated account's tuning jobs over HTTP: DescribeHyperParameterTuningJob and their trials' list."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from .shapes import assert_valid, output_shape


def _tuning_jobs(client: Any) -> dict[str, list[str]]:
    """Tuning job name -> its trials' names, from the listing."""
    out: dict[str, list[str]] = {}
    for page in client.get_paginator("list_training_jobs").paginate():
        for summary in page["TrainingJobSummaries"]:
            describe = client.describe_training_job(TrainingJobName=summary["TrainingJobName"])
            if describe.get("TuningJobArn"):
                out.setdefault(describe["TuningJobArn"].rsplit("/", 1)[-1], []).append(summary["TrainingJobName"])
    return out


def test_describe_agrees_with_the_trials_and_botocores_model(client: Any) -> None:
    tuning_jobs = _tuning_jobs(client)
    assert tuning_jobs, "the account has tuning jobs"
    shape = output_shape("DescribeHyperParameterTuningJob")
    for name, trials in tuning_jobs.items():
        described = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        assert_valid({k: v for k, v in described.items() if k != "ResponseMetadata"}, shape)
        counters = described["TrainingJobStatusCounters"]
        assert sum(counters.values()) == len(trials)
        statuses = [client.describe_training_job(TrainingJobName=t)["TrainingJobStatus"] for t in trials]
        assert counters["Completed"] == statuses.count("Completed")
        assert counters["InProgress"] == statuses.count("InProgress")
        objective = described["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
        trial = client.describe_training_job(TrainingJobName=trials[0])
        assert objective["MetricName"] == trial["HyperParameters"]["_tuning_objective_metric"].strip('"')
        assert described["HyperParameterTuningJobArn"] == trial["TuningJobArn"]
        best = described.get("BestTrainingJob")
        if best:  # the best finished trial by the objective, in its direction
            values = []
            for t in trials:
                metrics = client.describe_training_job(TrainingJobName=t).get("FinalMetricDataList") or []
                values += [m["Value"] for m in metrics if m["MetricName"] == objective["MetricName"]]
            chosen = best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
            assert chosen == pytest.approx(min(values) if objective["Type"] == "Minimize" else max(values))


def test_trials_list_pages_and_matches_the_describe(client: Any) -> None:
    name, trials = next(iter(_tuning_jobs(client).items()))
    shape = output_shape("ListTrainingJobsForHyperParameterTuningJob")
    listed: list[str] = []
    token = None
    while True:
        page = client.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, MaxResults=3, **({"NextToken": token} if token else {})
        )
        assert_valid({k: v for k, v in page.items() if k != "ResponseMetadata"}, shape)
        listed += [s["TrainingJobName"] for s in page["TrainingJobSummaries"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(listed) == sorted(trials)


def test_an_unknown_tuning_job_is_not_found(client: Any) -> None:
    with pytest.raises(ClientError) as error:
        client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="no-such-hpo")
    assert error.value.response["Error"]["Code"] == "ResourceNotFound"
