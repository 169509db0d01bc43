"""DescribeHyperParameterTuningJob over real HTTP against moto's server: the tuning page ranks by its objective."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from moto.backends import get_backend

from jobs import tuning_sync
from jobs.models import FinalMetric, SyncError, TuningJob
from tests.factories import make_job
from tests.integration.conftest import ACCOUNT, REGION

pytestmark = pytest.mark.django_db

HPO = "hpo-moto"


@pytest.fixture
def tuning_job(sm_client):
    arn = sm_client.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=HPO,
        HyperParameterTuningJobConfig={
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:accuracy"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 12, "MaxParallelTrainingJobs": 3},
        },
        TrainingJobDefinition={
            "AlgorithmSpecification": {
                "TrainingImage": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/t:1",
                "TrainingInputMode": "File",
            },
            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole",
            "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
            "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
    )["HyperParameterTuningJobArn"]
    yield arn
    get_backend("sagemaker")[ACCOUNT][REGION].hyper_parameter_tuning_jobs.clear()


def _trials(source, arn):
    trials = []
    for i, (loss, accuracy) in enumerate([(0.2, 0.70), (0.4, 0.95)]):
        job = make_job(f"{HPO}-{i:03d}", source=source, TuningJobArn=arn, FinalMetricDataList=[])
        FinalMetric.objects.create(job=job, name="validation:loss", value=loss)
        FinalMetric.objects.create(job=job, name="validation:accuracy", value=accuracy)
        trials.append(job)
    trials.append(make_job(f"{HPO}-002", source=source, status="InProgress", TuningJobArn=arn))
    return trials


def test_the_tuning_job_of_a_running_trial_is_described_and_ranks_the_page(
    moto_source, tuning_job, aws_calls, client, logged_in
):
    _loss_best, accuracy_best, _running = _trials(moto_source, tuning_job)
    url = reverse("jobs:tuning", args=[HPO])
    # Before: the page guesses (a loss, lowest best).
    assert client.get(url).context["objective"] == "validation:loss"

    report = tuning_sync.run(moto_source)

    assert (report.described, report.errors) == (1, 0)
    row = TuningJob.objects.get()
    assert (row.arn, row.name, row.objective_metric, row.objective_type) == (
        tuning_job,
        HPO,
        "validation:accuracy",
        "Maximize",
    )
    assert (row.strategy, row.max_training_jobs, row.source) == ("Bayesian", 12, moto_source)
    response = client.get(url)
    assert response.context["objective"] == "validation:accuracy"
    assert response.context["direction"] == "max"
    assert response.context["best"] == accuracy_best
    assert "own objective (DescribeHyperParameterTuningJob)" in response.content.decode()
    # A choice on the page still wins.
    assert client.get(url, {"objective": "validation:loss"}).context["direction"] == "min"

    # Finished (moto's are born Completed): never asked again.
    later = timezone.now() + tuning_sync.RETRY * 2
    assert row.status == "Completed" and tuning_sync.run(moto_source, now=later).described == 0
    # Unfinished: not again within REFRESH, again after it.
    get_backend("sagemaker")[ACCOUNT][REGION].hyper_parameter_tuning_jobs[HPO].hyper_parameter_tuning_job_status = (
        "InProgress"
    )
    TuningJob.objects.update(status="InProgress")
    assert tuning_sync.run(moto_source).described == 0
    assert aws_calls["DescribeHyperParameterTuningJob"] == 1
    assert tuning_sync.run(moto_source, now=timezone.now() + tuning_sync.REFRESH + timedelta(seconds=1)).described == 1
    assert aws_calls["DescribeHyperParameterTuningJob"] == 2
    assert TuningJob.objects.get().status == "InProgress"


def test_an_unknown_tuning_job_is_an_error_asked_again_later(moto_source, aws_calls, client, logged_in):
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:hyper-parameter-tuning-job/{HPO}"
    _trials(moto_source, arn)

    report = tuning_sync.run(moto_source)

    assert (report.described, report.errors) == (0, 1)
    assert SyncError.objects.get().job_name == HPO
    row = TuningJob.objects.get()
    assert row.error and row.objective_metric == ""
    assert tuning_sync.run(moto_source, now=timezone.now() + tuning_sync.REFRESH * 2).errors == 0  # not yet
    assert tuning_sync.run(moto_source, now=timezone.now() + tuning_sync.RETRY * 2).errors == 1
    page = client.get(reverse("jobs:tuning", args=[HPO]))
    assert page.context["objective"] == "validation:loss"  # the page's own choice meanwhile
    assert "could not be described" in page.content.decode()


def test_finished_tuning_jobs_and_history_are_not_asked_about(moto_source, tuning_job, aws_calls):
    make_job(f"{HPO}-000", source=moto_source, TuningJobArn=tuning_job)  # no running trial
    assert tuning_sync.run(moto_source).described == 0
    assert aws_calls["DescribeHyperParameterTuningJob"] == 0
