"""Builders for SageMaker responses and stored jobs, shared by the tests.

Responses are shaped like botocore's parsed output (aware datetimes), so
they can be validated against the service model and fed to the real parser.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from jobs import ingest
from jobs.domain.parse import parse_training_job
from jobs.models import Source, TrainingJob

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ACCOUNT = "123456789012"
# Planted in AWS-sourced fields: a page that runs it sets window.__xss.
XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1">'
# The same for fields AWS caps at 64 characters (statuses).
SHORT_XSS = "<img src=x onerror=window.__xss=1>"


def arn_of(name: str, region: str = "us-east-1") -> str:
    return f"arn:aws:sagemaker:{region}:{ACCOUNT}:training-job/{name}"


def describe_response(name: str = "resnet-50-001", *, status: str = "Completed", **overrides: Any) -> dict[str, Any]:
    """A DescribeTrainingJob response for a job that trained for an hour."""
    created = overrides.pop("created", T0)
    start = created + timedelta(minutes=5)
    end = start + timedelta(hours=1)
    running = status == "InProgress"
    response: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": arn_of(name),
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://bucket/output/{name}/model.tar.gz"},
        "TrainingJobStatus": status,
        "SecondaryStatus": "Training" if running else status,
        "HyperParameters": {"epochs": "10", "lr": "0.001"},
        "AlgorithmSpecification": {
            "TrainingImage": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/train:latest",
            "TrainingInputMode": "File",
        },
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole",
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/train"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
        "ResourceConfig": {"InstanceType": "ml.p3.2xlarge", "InstanceCount": 2, "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "CreationTime": created,
        "TrainingStartTime": start,
        "LastModifiedTime": end if not running else start,
        "SecondaryStatusTransitions": [
            {"Status": "Starting", "StartTime": created, "EndTime": start, "StatusMessage": "Preparing the instances"},
            {
                "Status": "Training",
                "StartTime": start,
                **({} if running else {"EndTime": end}),
                "StatusMessage": "Training image download completed. Training in progress.",
            },
        ],
        "EnableNetworkIsolation": False,
        "EnableInterContainerTrafficEncryption": False,
        "EnableManagedSpotTraining": False,
    }
    if not running:
        response["TrainingEndTime"] = end
        response["TrainingTimeInSeconds"] = 3600
        response["BillableTimeInSeconds"] = 3600
        response["SecondaryStatusTransitions"].append(
            {"Status": status, "StartTime": end, "EndTime": end, "StatusMessage": f"Training job {status.lower()}"}
        )
    if status == "Completed":
        response["FinalMetricDataList"] = [
            {"MetricName": "validation:accuracy", "Value": 0.91, "Timestamp": end},
            {"MetricName": "train:loss", "Value": 0.25, "Timestamp": end},
        ]
    if status == "Failed":
        response["FailureReason"] = "AlgorithmError: RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB"
    response.update(overrides)
    return response


def make_source(name: str = "default", **kwargs: Any) -> Source:
    source, _ = Source.objects.get_or_create(name=name, defaults={"region": "us-east-1", **kwargs})
    return source


def make_job(
    name: str = "resnet-50-001",
    *,
    source: Source | None = None,
    tags: dict[str, str] | None = None,
    now: datetime | None = None,
    **overrides: Any,
) -> TrainingJob:
    """Store a job through the real parse + ingest path."""
    raw = describe_response(name, **overrides)
    ingest.store_description(
        source or make_source(),
        parse_training_job(raw),
        raw,
        now=now or timezone.now(),
        tags=tags if tags is not None else {"team": "vision"},
    )
    return TrainingJob.objects.get(arn=raw["TrainingJobArn"])


def _epoch_ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def state_change_event(describe: dict[str, Any], *, tags: dict[str, str] | None = None) -> dict[str, Any]:
    """The EventBridge event SageMaker sends for ``describe``'s state: times in epoch ms, no billing or metrics."""
    detail = {
        k: v
        for k, v in describe.items()
        if k not in {"BillableTimeInSeconds", "TrainingTimeInSeconds", "FinalMetricDataList", "WarmPoolStatus"}
    }
    for key in ("CreationTime", "TrainingStartTime", "TrainingEndTime", "LastModifiedTime"):
        if isinstance(detail.get(key), datetime):
            detail[key] = _epoch_ms(detail[key])
    detail["SecondaryStatusTransitions"] = [
        {k: _epoch_ms(v) if isinstance(v, datetime) else v for k, v in t.items()}
        for t in detail.get("SecondaryStatusTransitions", [])
    ]
    detail["Tags"] = tags if tags is not None else {"team": "vision"}
    return {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "SageMaker Training Job State Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "time": "2026-11-20T13:05:00Z",
        "region": "us-east-1",
        "resources": [describe["TrainingJobArn"]],
        "detail": detail,
    }
