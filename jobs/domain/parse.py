"""Turn a DescribeTrainingJob response into the product's terms.

The response is untrusted input: required members may be missing and types
may be wrong. Anything we cannot read safely raises MalformedResponse, so the
caller can record the error and leave what is stored untouched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jobs.domain.billing import instance_count_of

REQUIRED = (
    "TrainingJobName",
    "TrainingJobArn",
    "ModelArtifacts",
    "TrainingJobStatus",
    "SecondaryStatus",
    "StoppingCondition",
    "CreationTime",
)


# What the columns hold: a number outside it is a broken response, not a job.
MAX_INT = 2**31 - 1
# No training job runs on more instances than this; a larger count would also
# overflow billable instance-seconds (count x up to 10,000 years of seconds).
MAX_INSTANCES = 100_000
# Column widths (and AWS's own maximums) of the identifiers we store.
MAX_LENGTHS = {
    "TrainingJobName": 63,
    "TrainingJobArn": 256,
    "TrainingJobStatus": 32,
    "SecondaryStatus": 64,
    "InstanceType": 64,
    "Algorithm": 512,
    "S3Uri": 1024,
    "RoleArn": 2048,
    "TuningJobArn": 256,
    "LabelingJobArn": 2048,
    "WarmPoolStatus": 32,
    "MetricName": 255,
}


def clean_text(value: str) -> str:
    """Text any database can store: no NUL (PostgreSQL refuses it), no lone surrogates."""
    if value.isascii() and "\x00" not in value:
        return value
    return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def clean_json(value: Any) -> Any:
    """A parsed response with what no JSON column can hold replaced, in one walk.

    Text loses NUL and lone surrogates (PostgreSQL's jsonb refuses both) and
    NaN and infinities become strings (JSON has no such numbers). Timestamps
    and everything else are left to the column's encoder.
    """
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return clean_text(bytes(value).decode("utf-8", "replace"))
    return value


class MalformedResponse(ValueError):
    """The response cannot be stored as it is; ``job_name`` says whose it was."""

    def __init__(self, job_name: str, detail: str) -> None:
        super().__init__(f"{job_name or '<unknown job>'}: {detail}")
        self.job_name = job_name
        self.detail = detail


@dataclass(frozen=True)
class Transition:
    status: str
    start_time: datetime
    end_time: datetime | None = None
    message: str = ""


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    timestamp: datetime | None = None


@dataclass(frozen=True)
class ParsedJob:
    name: str
    arn: str
    status: str
    secondary_status: str
    creation_time: datetime
    last_modified_time: datetime | None
    training_start_time: datetime | None
    training_end_time: datetime | None
    failure_reason: str
    instance_type: str
    instance_count: int
    instance_groups: list[dict[str, Any]]
    volume_size_gb: int | None
    keep_alive_seconds: int | None
    is_spot: bool
    max_runtime_seconds: int | None
    max_wait_seconds: int | None
    max_pending_seconds: int | None
    hyperparameters: dict[str, str]
    algorithm: str
    input_channels: list[dict[str, Any]]
    output_path: str
    model_artifacts: str
    role_arn: str
    tuning_job_arn: str
    labeling_job_arn: str
    warm_pool_status: str
    warm_pool_retained_seconds: int | None
    training_time_seconds: int | None
    reported_billable_seconds: int | None
    network_isolation: bool
    inter_container_encryption: bool
    transitions: list[Transition] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)


class _Reader:
    """Typed access to one response, raising MalformedResponse on bad shapes."""

    def __init__(self, data: Any, job_name: str) -> None:
        self.job_name = job_name
        if not isinstance(data, dict):
            raise MalformedResponse(job_name, f"response is {type(data).__name__}, not an object")
        self.data = data

    def fail(self, path: str, what: str) -> MalformedResponse:
        return MalformedResponse(self.job_name, f"{path} {what}")

    def get(self, obj: dict, key: str, kind: type | tuple[type, ...], path: str, default: Any = None) -> Any:
        value = obj.get(key)
        if value is None:
            return default
        # bool is an int subclass: a True where a count belongs is still wrong.
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            raise self.fail(path, "is a boolean, expected a number")
        if not isinstance(value, kind):
            raise self.fail(path, f"has type {type(value).__name__}")
        return value

    def time(self, obj: dict, key: str, path: str) -> datetime | None:
        value = self.get(obj, key, datetime, path)
        if value is not None and value.tzinfo is None:
            # botocore always parses to aware datetimes; a naive one came from a
            # hand-made response and is taken as UTC, the API's own zone.
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def obj(self, obj: dict, key: str, path: str) -> dict:
        return self.get(obj, key, dict, path, {})

    def lst(self, obj: dict, key: str, path: str) -> list:
        return self.get(obj, key, list, path, [])

    def text(self, obj: dict, key: str, path: str, max_length: int | None = None) -> str:
        value = clean_text(self.get(obj, key, str, path, ""))
        if max_length is not None and len(value) > max_length:
            raise self.fail(path, f"is longer than {max_length} characters")
        return value

    def int_(self, obj: dict, key: str, path: str, maximum: int = MAX_INT) -> int | None:
        value = self.get(obj, key, int, path)
        if value is not None and not 0 <= value <= maximum:
            raise self.fail(path, f"is {value}, outside 0..{maximum}")
        return value


def _job_name_of(data: Any) -> str:
    """The response's job name, fit to name it in an error message."""
    name = data.get("TrainingJobName", "") if isinstance(data, dict) else ""
    return clean_text(name)[:256] if isinstance(name, str) else ""


def parse_training_job(data: Any) -> ParsedJob:
    """Validate and flatten one DescribeTrainingJob response."""
    r = _Reader(data, _job_name_of(data))
    d = r.data
    for member in REQUIRED:
        if d.get(member) is None:
            raise r.fail(member, "is missing")
    name = r.text(d, "TrainingJobName", "TrainingJobName", MAX_LENGTHS["TrainingJobName"])
    status = r.text(d, "TrainingJobStatus", "TrainingJobStatus", MAX_LENGTHS["TrainingJobStatus"])
    secondary = r.text(d, "SecondaryStatus", "SecondaryStatus", MAX_LENGTHS["SecondaryStatus"])
    if not name or not status:
        raise r.fail("TrainingJobName/TrainingJobStatus", "is empty")
    creation_time = r.time(d, "CreationTime", "CreationTime")

    resources = r.obj(d, "ResourceConfig", "ResourceConfig")
    groups = r.lst(resources, "InstanceGroups", "ResourceConfig.InstanceGroups")
    clean_groups = []
    for i, group in enumerate(groups):
        if not isinstance(group, dict):
            raise r.fail(f"ResourceConfig.InstanceGroups[{i}]", "is not an object")
        clean_groups.append(
            {
                "name": r.text(group, "InstanceGroupName", f"InstanceGroups[{i}].InstanceGroupName"),
                "instance_type": r.text(group, "InstanceType", f"InstanceGroups[{i}].InstanceType"),
                "instance_count": r.int_(group, "InstanceCount", f"InstanceGroups[{i}].InstanceCount", MAX_INSTANCES)
                or 0,
            }
        )
    width = MAX_LENGTHS["InstanceType"]
    # InstancePreferences: SageMaker picks the first type with capacity and
    # reports it as Selected*; until then the first preference stands in.
    preferences = []
    for i, preference in enumerate(r.lst(resources, "InstancePreferences", "ResourceConfig.InstancePreferences")):
        if not isinstance(preference, dict):
            raise r.fail(f"ResourceConfig.InstancePreferences[{i}]", "is not an object")
        path = f"InstancePreferences[{i}]"
        preferences.append(
            (
                r.text(preference, "InstanceType", f"{path}.InstanceType", width),
                r.int_(preference, "InstanceCount", f"{path}.InstanceCount", MAX_INSTANCES),
            )
        )
    instance_count = r.int_(resources, "InstanceCount", "ResourceConfig.InstanceCount", MAX_INSTANCES)
    if instance_count is None and preferences:
        instance_count = preferences[0][1]
    selected_count = r.int_(resources, "SelectedInstanceCount", "ResourceConfig.SelectedInstanceCount", MAX_INSTANCES)
    instance_type = (
        r.text(resources, "SelectedInstanceType", "ResourceConfig.SelectedInstanceType", width)
        or r.text(resources, "InstanceType", "ResourceConfig.InstanceType", width)
        or (clean_groups[0]["instance_type"][:width] if clean_groups else "")
        or (preferences[0][0] if preferences else "")
    )
    billed_instances = instance_count_of(instance_count, [g["instance_count"] for g in clean_groups], selected_count)
    if billed_instances > MAX_INSTANCES:
        raise r.fail("ResourceConfig.InstanceGroups", f"add up to {billed_instances} instances")

    stopping = r.obj(d, "StoppingCondition", "StoppingCondition")
    algorithm = r.obj(d, "AlgorithmSpecification", "AlgorithmSpecification")
    warm_pool = r.obj(d, "WarmPoolStatus", "WarmPoolStatus")
    output = r.obj(d, "OutputDataConfig", "OutputDataConfig")
    artifacts = r.obj(d, "ModelArtifacts", "ModelArtifacts")

    hyperparameters = r.obj(d, "HyperParameters", "HyperParameters")
    for key, value in hyperparameters.items():
        if not isinstance(value, str):
            raise r.fail(f"HyperParameters[{clean_text(str(key))[:100]!r}]", f"has type {type(value).__name__}")
    hyperparameters = {clean_text(str(k)): clean_text(v) for k, v in hyperparameters.items()}

    channels = []
    for i, channel in enumerate(r.lst(d, "InputDataConfig", "InputDataConfig")):
        if not isinstance(channel, dict):
            raise r.fail(f"InputDataConfig[{i}]", "is not an object")
        s3 = r.obj(r.obj(channel, "DataSource", f"InputDataConfig[{i}].DataSource"), "S3DataSource", "S3DataSource")
        channels.append(
            {
                "name": r.text(channel, "ChannelName", f"InputDataConfig[{i}].ChannelName"),
                "uri": r.text(s3, "S3Uri", f"InputDataConfig[{i}].S3Uri"),
                "content_type": r.text(channel, "ContentType", f"InputDataConfig[{i}].ContentType"),
                "input_mode": r.text(channel, "InputMode", f"InputDataConfig[{i}].InputMode"),
            }
        )

    transitions = []
    for i, item in enumerate(r.lst(d, "SecondaryStatusTransitions", "SecondaryStatusTransitions")):
        if not isinstance(item, dict):
            raise r.fail(f"SecondaryStatusTransitions[{i}]", "is not an object")
        path = f"SecondaryStatusTransitions[{i}]"
        start = r.time(item, "StartTime", f"{path}.StartTime")
        status_ = r.text(item, "Status", f"{path}.Status", MAX_LENGTHS["SecondaryStatus"])
        if start is None or not status_:
            raise r.fail(path, "lacks Status or StartTime")
        transitions.append(
            Transition(
                status=status_,
                start_time=start,
                end_time=r.time(item, "EndTime", f"{path}.EndTime"),
                message=r.text(item, "StatusMessage", f"{path}.StatusMessage"),
            )
        )

    metrics = []
    for i, item in enumerate(r.lst(d, "FinalMetricDataList", "FinalMetricDataList")):
        if not isinstance(item, dict):
            raise r.fail(f"FinalMetricDataList[{i}]", "is not an object")
        metric_name = r.text(item, "MetricName", f"FinalMetricDataList[{i}].MetricName", MAX_LENGTHS["MetricName"])
        value = r.get(item, "Value", (int, float), f"FinalMetricDataList[{i}].Value")
        if not metric_name or value is None or not _finite(value):
            # A diverged loss can be NaN; a float column cannot hold it everywhere, so it is not kept.
            continue
        metrics.append(
            Metric(metric_name, float(value), r.time(item, "Timestamp", f"FinalMetricDataList[{i}].Timestamp"))
        )

    return ParsedJob(
        name=name,
        arn=r.text(d, "TrainingJobArn", "TrainingJobArn", MAX_LENGTHS["TrainingJobArn"]),
        status=status,
        secondary_status=secondary,
        creation_time=creation_time,
        last_modified_time=r.time(d, "LastModifiedTime", "LastModifiedTime"),
        training_start_time=r.time(d, "TrainingStartTime", "TrainingStartTime"),
        training_end_time=r.time(d, "TrainingEndTime", "TrainingEndTime"),
        failure_reason=r.text(d, "FailureReason", "FailureReason"),
        instance_type=instance_type,
        instance_count=billed_instances,
        instance_groups=clean_groups,
        volume_size_gb=r.int_(resources, "VolumeSizeInGB", "ResourceConfig.VolumeSizeInGB"),
        keep_alive_seconds=r.int_(resources, "KeepAlivePeriodInSeconds", "ResourceConfig.KeepAlivePeriodInSeconds"),
        is_spot=bool(r.get(d, "EnableManagedSpotTraining", bool, "EnableManagedSpotTraining", False)),
        max_runtime_seconds=r.int_(stopping, "MaxRuntimeInSeconds", "StoppingCondition.MaxRuntimeInSeconds"),
        max_wait_seconds=r.int_(stopping, "MaxWaitTimeInSeconds", "StoppingCondition.MaxWaitTimeInSeconds"),
        max_pending_seconds=r.int_(stopping, "MaxPendingTimeInSeconds", "StoppingCondition.MaxPendingTimeInSeconds"),
        hyperparameters=dict(hyperparameters),
        algorithm=r.text(algorithm, "TrainingImage", "AlgorithmSpecification.TrainingImage", MAX_LENGTHS["Algorithm"])
        or r.text(algorithm, "AlgorithmName", "AlgorithmSpecification.AlgorithmName", MAX_LENGTHS["Algorithm"]),
        input_channels=channels,
        output_path=r.text(output, "S3OutputPath", "OutputDataConfig.S3OutputPath", MAX_LENGTHS["S3Uri"]),
        model_artifacts=r.text(artifacts, "S3ModelArtifacts", "ModelArtifacts.S3ModelArtifacts", MAX_LENGTHS["S3Uri"]),
        role_arn=r.text(d, "RoleArn", "RoleArn", MAX_LENGTHS["RoleArn"]),
        tuning_job_arn=r.text(d, "TuningJobArn", "TuningJobArn", MAX_LENGTHS["TuningJobArn"]),
        labeling_job_arn=r.text(d, "LabelingJobArn", "LabelingJobArn", MAX_LENGTHS["LabelingJobArn"]),
        warm_pool_status=r.text(warm_pool, "Status", "WarmPoolStatus.Status", MAX_LENGTHS["WarmPoolStatus"]),
        warm_pool_retained_seconds=r.int_(
            warm_pool, "ResourceRetainedBillableTimeInSeconds", "WarmPoolStatus.ResourceRetainedBillableTimeInSeconds"
        ),
        training_time_seconds=r.int_(d, "TrainingTimeInSeconds", "TrainingTimeInSeconds"),
        reported_billable_seconds=r.int_(d, "BillableTimeInSeconds", "BillableTimeInSeconds"),
        network_isolation=bool(r.get(d, "EnableNetworkIsolation", bool, "EnableNetworkIsolation", False)),
        inter_container_encryption=bool(
            r.get(d, "EnableInterContainerTrafficEncryption", bool, "EnableInterContainerTrafficEncryption", False)
        ),
        transitions=transitions,
        metrics=metrics,
    )


@dataclass(frozen=True)
class JobSummary:
    name: str
    arn: str
    status: str
    secondary_status: str
    creation_time: datetime
    last_modified_time: datetime | None
    training_end_time: datetime | None


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int too large for a float
        return False


def parse_summary(data: Any) -> JobSummary:
    """Validate one ListTrainingJobs summary."""
    r = _Reader(data, _job_name_of(data))
    d = r.data
    for member in ("TrainingJobName", "TrainingJobArn", "CreationTime", "TrainingJobStatus"):
        if d.get(member) is None:
            raise r.fail(member, "is missing")
    return JobSummary(
        # The same widths as a describe: one summary too wide for its column
        # failed the whole page's insert, and every cycle re-listed it.
        name=r.text(d, "TrainingJobName", "TrainingJobName", MAX_LENGTHS["TrainingJobName"]),
        arn=r.text(d, "TrainingJobArn", "TrainingJobArn", MAX_LENGTHS["TrainingJobArn"]),
        status=r.text(d, "TrainingJobStatus", "TrainingJobStatus", MAX_LENGTHS["TrainingJobStatus"]),
        secondary_status=r.text(d, "SecondaryStatus", "SecondaryStatus", MAX_LENGTHS["SecondaryStatus"]),
        creation_time=r.time(d, "CreationTime", "CreationTime"),
        last_modified_time=r.time(d, "LastModifiedTime", "LastModifiedTime"),
        training_end_time=r.time(d, "TrainingEndTime", "TrainingEndTime"),
    )
