"""CloudWatch metrics and logs over real HTTP against moto's server (SageMaker, CloudWatch and Logs on one port)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from django.core.management import call_command
from moto.backends import get_backend

from jobs import cloudwatch_sync, sagemaker, sync
from jobs.domain import cloudwatch as cw
from jobs.models import CloudWatchFetch, LogTail, MetricSeries, SeriesChunk, SyncError, TrainingJob
from tests.integration.conftest import ACCOUNT, REGION
from tests.integration.test_sync_moto import make_running

pytestmark = pytest.mark.django_db

GROUP = "/aws/sagemaker/TrainingJobs"
JOB = "cw-job"


@pytest.fixture(autouse=True)
def describe_path(settings):
    settings.TRAINWATCH_SEARCH = False
    settings.TRAINWATCH_CLOUDWATCH_SEARCH = True  # moto cannot SEARCH: each test starts by finding that out
    cloudwatch_sync._NO_SEARCH.clear()
    yield
    cloudwatch_sync._NO_SEARCH.clear()


@pytest.fixture
def moto_cw(moto_url):
    yield boto3.client("cloudwatch", endpoint_url=moto_url, region_name=REGION)
    get_backend("cloudwatch").reset()
    get_backend("logs").reset()


@pytest.fixture
def moto_logs(moto_url, moto_cw):
    client = boto3.client("logs", endpoint_url=moto_url, region_name=REGION)
    client.create_log_group(logGroupName=GROUP)
    return client


@pytest.fixture
def cw_calls(moto_source) -> list[tuple[str, dict]]:
    """(operation, params) of every CloudWatch and Logs call our clients really send."""
    calls: list[tuple[str, dict]] = []
    config = sagemaker.SourceConfig.of(moto_source)
    for service in (sagemaker.CLOUDWATCH, sagemaker.LOGS):
        client = sagemaker.client_for(config, service)
        client.meta.events.register(
            f"provide-client-params.{client.meta.service_model.service_name}.*",
            lambda params, model, **kw: calls.append((model.name, dict(params))),
        )
    return calls


def minute(moment: datetime) -> datetime:
    return cw.floor_period(moment)


def put_points(client, started: datetime, minutes: range, *, host: str = f"{JOB}/algo-1") -> None:
    data = []
    for m in minutes:
        at = started + timedelta(minutes=m)
        data.append(
            {
                "MetricName": "train:loss",
                "Dimensions": [{"Name": "TrainingJobName", "Value": JOB}],
                "Timestamp": at,
                "Value": 10.0 - m,
            }
        )
        data.append(
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "Host", "Value": host}],
                "Timestamp": at,
                "Value": 50.0 + m,
            }
        )
    client.put_metric_data(Namespace=GROUP, MetricData=data)


def put_lines(client, stream: str, lines: list[str]) -> None:
    ms = int(time.time() * 1000)
    client.put_log_events(
        logGroupName=GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": ms + i, "message": m} for i, m in enumerate(lines)],
    )


def running_job(moto_source, sm_client, moto_jobs, started: datetime) -> TrainingJob:
    sm_client.create_training_job(
        TrainingJobName=JOB,
        AlgorithmSpecification={
            "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/t:1",
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "validation:loss", "Regex": "val_loss=([0-9.]+)"}],
        },
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole",
        OutputDataConfig={"S3OutputPath": "s3://bucket/output"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 86400},
    )
    make_running(moto_jobs, JOB, started)
    # moto replaces the definitions it was given with its own: put ours back.
    moto_jobs[JOB].algorithm_specification["MetricDefinitions"] = [{"Name": "validation:loss", "Regex": "v=(.+)"}]
    sync.run_cycle(moto_source)
    return TrainingJob.objects.get(name=JOB)


def series(name: str) -> list[cw.Point]:
    series = MetricSeries.objects.get(name=name)
    return cw.unpack_points(SeriesChunk.objects.points_of([series.pk])[series.pk])


def test_sync_stores_new_points_and_lines_and_asks_only_for_what_is_new(
    moto_source, sm_client, moto_jobs, moto_cw, moto_logs, cw_calls
):
    started = minute(datetime.now(UTC)) - timedelta(minutes=30)
    job = running_job(moto_source, sm_client, moto_jobs, started)
    assert job.is_running
    put_points(moto_cw, started, range(0, 10))
    moto_logs.create_log_stream(logGroupName=GROUP, logStreamName=f"{JOB}/algo-1-1700000000")
    put_lines(moto_logs, f"{JOB}/algo-1-1700000000", [f"epoch {i} train_loss={10 - i}" for i in range(5)])

    report = cloudwatch_sync.run(moto_source)

    assert report.errors == 0, list(SyncError.objects.values_list("message", flat=True))
    loss = series("train:loss")
    assert [v for _, v in loss] == [10.0 - m for m in range(10)]
    assert loss[0][0] == started.timestamp()
    assert [v for _, v in series("CPUUtilization")] == [50.0 + m for m in range(10)]
    cpu = MetricSeries.objects.get(name="CPUUtilization")
    assert cpu.host == f"{JOB}/algo-1" and cpu.kind == "instance" and cpu.point_count == 10
    assert cpu.cursor == started + timedelta(minutes=9)
    # Named in MetricDefinitions but never emitted: asked for, no row stored.
    assert not MetricSeries.objects.filter(name="validation:loss").exists()
    first, fallback = [p["MetricDataQueries"] for op, p in cw_calls if op == "GetMetricData"]
    # The job's hosts in one SEARCH, which moto answers with nothing; then host by host, which
    # finds points: from now on this source is asked host by host.
    assert [q["Id"] for q in first if "Expression" in q] == ["q0"]
    assert 'Host="cw-job/algo-1"' in first[0]["Expression"]
    assert moto_source.pk in cloudwatch_sync._NO_SEARCH
    assert not any("Expression" in q for q in fallback)
    asked = {q["MetricStat"]["Metric"]["MetricName"] for q in first + fallback if "MetricStat" in q}
    assert {"validation:loss", "train:loss", "CPUUtilization", "MemoryUtilization", "DiskUtilization"} <= asked
    assert "GPUUtilization" not in asked and "GPUUtilization" not in first[0]["Expression"]  # ml.m5: no GPUs
    tail = LogTail.objects.get(job=job)
    assert tail.host == "algo-1"
    assert [line[1] for line in tail.lines] == [f"epoch {i} train_loss={10 - i}" for i in range(5)]
    assert tail.forward_token

    # Second cycle: only what is new since the cursors.
    put_points(moto_cw, started, range(10, 13))
    put_lines(moto_logs, f"{JOB}/algo-1-1700000000", ["epoch 5 train_loss=5"])
    first_token = tail.forward_token
    cw_calls.clear()
    cloudwatch_sync.run(moto_source)

    data_calls = [p for op, p in cw_calls if op == "GetMetricData"]
    assert len(data_calls) == 1  # every series of the job in one call, host by host
    assert not any("Expression" in q for q in data_calls[0]["MetricDataQueries"])
    assert data_calls[0]["StartTime"] >= started + timedelta(minutes=9) - cloudwatch_sync.LATE_MARGIN
    log_calls = [p for op, p in cw_calls if op == "GetLogEvents"]
    assert log_calls[0]["nextToken"] == first_token
    assert not any(op == "DescribeLogStreams" for op, _ in cw_calls)  # every host's stream is known
    assert not any(op == "ListMetrics" for op, _ in cw_calls)  # listed less than RELIST_EVERY ago
    assert [v for _, v in series("train:loss")] == [10.0 - m for m in range(13)]  # no point twice
    tail.refresh_from_db()
    assert [line[1] for line in tail.lines][-2:] == ["epoch 4 train_loss=6", "epoch 5 train_loss=5"]
    assert len(tail.lines) == 6


def test_terminal_job_is_fetched_once_more_then_never(moto_source, sm_client, moto_jobs, moto_cw, moto_logs, cw_calls):
    started = minute(datetime.now(UTC)) - timedelta(minutes=30)
    job = running_job(moto_source, sm_client, moto_jobs, started)
    put_points(moto_cw, started, range(0, 5))
    cloudwatch_sync.run(moto_source)
    assert series("train:loss")[-1][1] == 6.0

    # The job ended (stored as the job sync would), and its last points and lines arrived.
    ended = started + timedelta(minutes=8)
    TrainingJob.objects.filter(pk=job.pk).update(status="Failed", training_end_time=ended)
    put_points(moto_cw, started, range(5, 8))
    moto_logs.create_log_stream(logGroupName=GROUP, logStreamName=f"{JOB}/algo-1-1700000000")
    put_lines(moto_logs, f"{JOB}/algo-1-1700000000", ["Traceback (most recent call last):", "ValueError: boom"])
    cw_calls.clear()
    report = cloudwatch_sync.run(moto_source)

    assert report.finished == 1
    assert series("train:loss")[-1][1] == 3.0
    assert [line[1] for line in LogTail.objects.get(job=job).lines] == [
        "Traceback (most recent call last):",
        "ValueError: boom",
    ]
    assert CloudWatchFetch.objects.get(job=job).final_fetched_at is not None
    data_call = next(p for op, p in cw_calls if op == "GetMetricData")
    assert data_call["EndTime"] <= ended + timedelta(minutes=10)

    cw_calls.clear()
    assert cloudwatch_sync.run(moto_source).jobs == 0
    assert cw_calls == []


def test_failures_are_sync_errors_and_retried_next_cycle(moto_source, sm_client, moto_jobs, moto_cw, moto_logs):
    started = minute(datetime.now(UTC)) - timedelta(minutes=30)
    job = running_job(moto_source, sm_client, moto_jobs, started)
    put_points(moto_cw, started, range(0, 3))
    TrainingJob.objects.filter(pk=job.pk).update(status="Completed", training_end_time=started + timedelta(minutes=3))
    config = sagemaker.SourceConfig.of(moto_source)
    client = sagemaker.client_for(config, sagemaker.CLOUDWATCH)

    def throttle(**kwargs):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "GetMetricData")

    client.meta.events.register_first("before-call.cloudwatch.GetMetricData", throttle, unique_id="throttle")
    try:
        report = cloudwatch_sync.run(moto_source)
    finally:
        client.meta.events.unregister("before-call.cloudwatch.GetMetricData", unique_id="throttle")
    assert report.errors == 1
    error = SyncError.objects.get()
    assert error.kind == "throttled" and error.job_name == JOB and "GetMetricData" in error.message
    assert CloudWatchFetch.objects.get(job=job).final_fetched_at is None  # not given up: asked again

    report = cloudwatch_sync.run(moto_source)
    assert report.errors == 0 and report.finished == 1
    assert [v for _, v in series("train:loss")] == [10.0, 9.0, 8.0]


def test_sync_jobs_command_fetches_cloudwatch_inline(
    moto_source, sm_client, moto_jobs, moto_cw, moto_logs, settings, capsys
):
    started = minute(datetime.now(UTC)) - timedelta(minutes=30)
    running_job(moto_source, sm_client, moto_jobs, started)
    put_points(moto_cw, started, range(0, 4))
    settings.TRAINWATCH_DEFAULT_SOURCE = False
    call_command("sync_jobs")
    assert "CloudWatch: 1 jobs" in capsys.readouterr().out
    assert MetricSeries.objects.get(name="train:loss").point_count == 4
    assert Counter(MetricSeries.objects.values_list("kind", flat=True)) == {"algorithm": 1, "instance": 1}


def test_beat_schedules_the_cloudwatch_task_beside_the_job_sync(settings):
    from dashboard.celery import app

    app.finalize()
    entry = app.conf.beat_schedule["sync CloudWatch metrics and logs"]
    assert entry["task"] == "jobs.tasks.sync_cloudwatch_all"
    assert entry["options"]["expires"] < settings.TRAINWATCH_SYNC_INTERVAL


def test_the_celery_task_runs_one_source(moto_source, sm_client, moto_jobs, moto_cw, moto_logs):
    from jobs import tasks

    started = minute(datetime.now(UTC)) - timedelta(minutes=30)
    running_job(moto_source, sm_client, moto_jobs, started)
    put_points(moto_cw, started, range(0, 2))
    result = tasks.sync_cloudwatch.apply(args=[moto_source.pk]).get()
    assert result.startswith("CloudWatch: 1 jobs")
    assert MetricSeries.objects.get(name="train:loss").point_count == 2


def test_two_cycles_at_once_store_no_point_or_line_twice(moto_source, sm_client, moto_jobs, moto_cw, moto_logs):
    """A cycle that read the same events as one that stored first drops its copy (the token moved)."""
    started = minute(datetime.now(UTC)) - timedelta(minutes=30)
    job = running_job(moto_source, sm_client, moto_jobs, started)
    stream = f"{JOB}/algo-1-1700000000"
    moto_logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    put_lines(moto_logs, stream, ["one"])
    put_points(moto_cw, started, range(0, 3))
    cloudwatch_sync.run(moto_source)
    put_lines(moto_logs, stream, ["two"])
    tail = LogTail.objects.get(job=job)
    stale = LogTail.objects.get(pk=tail.pk)  # what the second cycle loaded before the first stored
    cloudwatch_sync.run(moto_source)
    report = cloudwatch_sync.Report()
    config = sagemaker.SourceConfig.of(moto_source)
    cloudwatch_sync._read_stream(moto_source, config, job, stale, datetime.now(UTC), report)
    assert report.lines == 1  # it did read "two" again
    assert [line[1] for line in LogTail.objects.get(pk=tail.pk).lines] == ["one", "two"]
    cloudwatch_sync.run(moto_source)
    assert [v for _, v in series("train:loss")] == [10.0, 9.0, 8.0]
