"""Plan + time -> the dicts SageMaker's API returns (wire form, epoch floats).

The static part of a job (configuration, tags, texts) never changes, so it
is built once per job from its own random stream and cached; only the
time-dependent members are added per call.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from random import Random
from typing import Any

from . import texts
from .population import Event, JobPlan, Population
from .rand import key3
from .timeline import State, billing

GPU_TYPES = frozenset(t for t, _, gpu in texts.INSTANCE_TYPES if gpu)


class Renderer:
    def __init__(self, population: Population, region: str, account_id: str) -> None:
        self.population = population
        self.region = region
        self.account_id = account_id
        self.static = lru_cache(maxsize=8192)(self._static)

    def arn(self, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:training-job/{name}"

    # --- static configuration ------------------------------------------------
    def _static(self, i: int) -> dict[str, Any]:
        plan = self.population.plan(i)
        rng = Random(key3(self.population.seed, i, 8))
        team = rng.choice(texts.TEAMS)
        project = rng.choice(texts.PROJECTS)
        bucket = rng.choice(texts.BUCKETS)
        role = f"arn:aws:iam::{self.account_id}:role/service-role/AmazonSageMaker-ExecutionRole-{team}"
        image_tpl, metrics = texts.FAMILIES[plan.family][1:]
        image = image_tpl.format(region=self.region, account=self.account_id, version=rng.randint(1, 40))
        output = f"s3://{bucket}/{project}/output"

        algo: dict[str, Any] = {"TrainingInputMode": rng.choice(("File", "File", "File", "FastFile", "Pipe"))}
        if plan.family == "marketplace":
            algo["AlgorithmName"] = (
                f"arn:aws:sagemaker:{self.region}:{self.account_id}:algorithm/fraud-gbm-v{rng.randint(1, 9)}"
            )
        else:
            algo["TrainingImage"] = image
        algo["MetricDefinitions"] = [{"Name": m, "Regex": f"{m}=([0-9\\.]+)"} for m in metrics]
        algo["EnableSageMakerMetricsTimeSeries"] = rng.random() < 0.5

        hyper = self._hyperparameters(rng, plan, bucket, project)
        multi = plan.instance_count > 1
        channels = [_channel("train", bucket, project, multi, rng)]
        if rng.random() < 0.7:
            channels.append(_channel("validation", bucket, project, False, rng))

        resource: dict[str, Any] = {}
        if plan.preferences:
            if plan.preferences[0][1] is None:
                resource["InstanceCount"] = plan.instance_count
        elif plan.instance_groups:
            resource["InstanceGroups"] = [
                {"InstanceType": t, "InstanceCount": c, "InstanceGroupName": g} for g, t, c in plan.instance_groups
            ]
        else:
            resource["InstanceType"] = plan.instance_type
            resource["InstanceCount"] = plan.instance_count
        resource["VolumeSizeInGB"] = rng.choice((30, 50, 100, 500))
        if plan.keep_alive:
            resource["KeepAlivePeriodInSeconds"] = plan.keep_alive
        if plan.preferences:
            resource["InstancePreferences"] = [
                {"InstanceType": t} if c is None else {"InstanceType": t, "InstanceCount": c}
                for t, c in plan.preferences
            ]

        stopping: dict[str, Any] = {"MaxRuntimeInSeconds": plan.max_runtime}
        if plan.max_wait:
            stopping["MaxWaitTimeInSeconds"] = plan.max_wait

        tags = [
            {"Key": "team", "Value": team},
            {"Key": "project", "Value": project},
            {"Key": "environment", "Value": rng.choice(("dev", "staging", "prod"))},
            {"Key": "owner", "Value": rng.choice(texts.OWNERS)},
        ]
        if rng.random() < 0.5:
            tags.append({"Key": "cost-center", "Value": f"cc-{rng.randint(1000, 9999)}"})

        d: dict[str, Any] = {
            "TrainingJobName": plan.name,
            "TrainingJobArn": self.arn(plan.name),
        }
        if plan.tuner:
            d["TuningJobArn"] = (
                f"arn:aws:sagemaker:{self.region}:{self.account_id}:hyper-parameter-tuning-job/{plan.tuner}"
            )
        d["ModelArtifacts"] = {"S3ModelArtifacts": f"{output}/{plan.name}/output/model.tar.gz"}
        d["HyperParameters"] = hyper
        d["AlgorithmSpecification"] = algo
        d["RoleArn"] = role
        d["InputDataConfig"] = channels
        d["OutputDataConfig"] = {"S3OutputPath": output, "CompressionType": "GZIP"}
        d["ResourceConfig"] = resource
        if rng.random() < 0.25:
            d["VpcConfig"] = {
                "SecurityGroupIds": [f"sg-{rng.getrandbits(68):017x}"],
                "Subnets": [f"subnet-{rng.getrandbits(68):017x}" for _ in range(rng.randint(1, 3))],
            }
        d["StoppingCondition"] = stopping
        d["EnableNetworkIsolation"] = rng.random() < 0.1
        d["EnableInterContainerTrafficEncryption"] = multi and rng.random() < 0.3
        d["EnableManagedSpotTraining"] = plan.spot
        if plan.spot:
            d["CheckpointConfig"] = {
                "S3Uri": f"s3://{bucket}/{project}/checkpoints/{plan.name}",
                "LocalPath": "/opt/ml/checkpoints",
            }
        if plan.retry_attempts:
            d["RetryStrategy"] = {"MaximumRetryAttempts": plan.retry_attempts}
        if rng.random() < 0.3:
            d["Environment"] = {"PROJECT": project, "LOG_LEVEL": rng.choice(("INFO", "DEBUG"))}
        if plan.warm_from is not None:
            # A warm pool is reused only by a job that matches it: same image, role, network and resources.
            owner = self.static(plan.warm_from)
            for member in _WARM_MATCH:
                if member in owner["describe"]:
                    d[member] = owner["describe"][member]
                else:
                    d.pop(member, None)
            owner_team = next(tag["Value"] for tag in owner["tags"] if tag["Key"] == "team")
            tags[0] = {"Key": "team", "Value": owner_team}
            role, image = d["RoleArn"], d["AlgorithmSpecification"].get("TrainingImage", image)
        return {
            "describe": d,
            "tags": tags,
            "metrics": [(m, _metric_value(m, rng)) for m in metrics],
            "failure": self._failure_reason(rng, plan, role, bucket, project, image),
        }

    def _hyperparameters(self, rng: Random, plan: JobPlan, bucket: str, project: str) -> dict[str, str]:
        if plan.family == "xgboost":
            hp = {
                "max_depth": str(rng.randint(3, 10)),
                "eta": f"{rng.uniform(0.01, 0.3):.3f}",
                "num_round": str(rng.choice((100, 200, 500))),
                "objective": "binary:logistic",
            }
        else:
            hp = {
                "epochs": str(rng.randint(1, 30)),
                "learning-rate": f"{10 ** rng.uniform(-5, -2):.6f}",
                "batch-size": str(rng.choice((16, 32, 64, 128))),
                # The SageMaker Python SDK JSON-encodes these, quotes included.
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": f'"s3://{bucket}/{project}/code/sourcedir.tar.gz"',
                "sagemaker_region": f'"{self.region}"',
            }
        if plan.tuner:
            hp["_tuning_objective_metric"] = texts.FAMILIES[plan.family][2][-1]
        return hp

    def _failure_reason(
        self, rng: Random, plan: JobPlan, role: str, bucket: str, project: str, image: str
    ) -> str | None:
        kind = plan.fail_kind
        if kind is None:
            return None
        if kind == "algorithm":
            line = rng.randint(20, 400)
            tpl = (
                texts.OOM_TAIL
                if plan.instance_type in GPU_TYPES and rng.random() < 0.6
                else rng.choice((texts.KEYERROR_TAIL, texts.NAN_TAIL))
            )
            text = tpl.format(
                line=line,
                line2=line + rng.randint(5, 90),
                epochs=rng.randint(1, 30),
                lr=f"{10 ** rng.uniform(-5, -2):.6f}",
            )
        elif kind == "s3_denied":
            text = texts.S3_DENIED.format(role=role, bucket=bucket, path=f"{project}/data/train/part-0001.parquet")
        elif kind == "bad_image":
            text = texts.BAD_IMAGE.format(image=image or "unknown")
        elif kind == "capacity":
            text = texts.CAPACITY
        elif kind == "resource_limit":
            text = texts.RESOURCE_LIMIT.format(
                itype=plan.instance_type, limit=rng.randint(0, 4), count=plan.instance_count
            )
        else:
            text = texts.INTERNAL
        return text[:1024]

    # --- time-dependent dicts ---------------------------------------------------
    def describe(self, plan: JobPlan, events: tuple[Event, ...], state: State) -> dict[str, Any]:
        static = self.static(plan.index)
        d = dict(static["describe"])
        d["TrainingJobStatus"] = state.status
        d["SecondaryStatus"] = state.secondary
        if state.status == "Failed" and static["failure"]:
            d["FailureReason"] = static["failure"]
        if plan.preferences and any(e.status == "PreparingTrainingStack" for e in events[: state.visible]):
            # SageMaker reports its pick once instances are up; the job is billed for that type and count.
            d["ResourceConfig"] = {
                **d["ResourceConfig"],
                "SelectedInstanceType": plan.instance_type,
                "SelectedInstanceCount": plan.instance_count,
            }
        if state.warm_pool:
            d["WarmPoolStatus"] = self._pool(plan, state)
        d["CreationTime"] = plan.creation
        if state.training_start is not None:
            d["TrainingStartTime"] = state.training_start
        if state.training_end is not None:
            d["TrainingEndTime"] = state.training_end
        d["LastModifiedTime"] = state.last_modified
        d["SecondaryStatusTransitions"] = _transitions(events, state.visible)
        if state.status == "Completed":
            d["FinalMetricDataList"] = [
                {"MetricName": m, "Value": v, "Timestamp": state.training_end or state.last_modified}
                for m, v in static["metrics"]
            ]
        times = billing(plan, events, state)
        if times:
            d["TrainingTimeInSeconds"], d["BillableTimeInSeconds"] = times
        return _ordered(d)

    def summary(self, plan: JobPlan, state: State) -> dict[str, Any]:
        s: dict[str, Any] = {
            "TrainingJobName": plan.name,
            "TrainingJobArn": self.arn(plan.name),
            "CreationTime": plan.creation,
        }
        if state.training_end is not None:
            s["TrainingEndTime"] = state.training_end
        s["LastModifiedTime"] = state.last_modified
        s["TrainingJobStatus"] = state.status
        s["SecondaryStatus"] = state.secondary
        if state.warm_pool:
            s["WarmPoolStatus"] = self._pool(plan, state)
        return s

    def _pool(self, plan: JobPlan, state: State) -> dict[str, Any]:
        pool: dict[str, Any] = {"Status": state.warm_pool}
        if state.pool_billable is not None:
            pool["ResourceRetainedBillableTimeInSeconds"] = state.pool_billable
        if state.warm_pool == "Reused" and plan.reused_by is not None:
            pool["ReusedByJob"] = self.population.name(plan.reused_by)
        return pool

    def tags(self, i: int) -> list[dict[str, str]]:
        return [dict(t) for t in self.static(i)["tags"]]


# What a job must share with a warm pool to reuse it.
_WARM_MATCH = (
    "AlgorithmSpecification",
    "RoleArn",
    "ResourceConfig",
    "VpcConfig",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
)

# Members in the order botocore's model lists them, so responses read like AWS's.
_ORDER = (
    "TrainingJobName",
    "TrainingJobArn",
    "TuningJobArn",
    "ModelArtifacts",
    "TrainingJobStatus",
    "SecondaryStatus",
    "FailureReason",
    "HyperParameters",
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "WarmPoolStatus",
    "VpcConfig",
    "StoppingCondition",
    "CreationTime",
    "TrainingStartTime",
    "TrainingEndTime",
    "LastModifiedTime",
    "SecondaryStatusTransitions",
    "FinalMetricDataList",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "TrainingTimeInSeconds",
    "BillableTimeInSeconds",
    "Environment",
    "RetryStrategy",
)


def _ordered(d: dict[str, Any]) -> dict[str, Any]:
    return {k: d[k] for k in _ORDER if k in d}


def _transitions(events: tuple[Event, ...], visible: int) -> list[dict[str, Any]]:
    out = []
    for k in range(visible):
        e = events[k]
        item: dict[str, Any] = {"Status": e.status, "StartTime": e.start}
        if k + 1 < visible:
            item["EndTime"] = events[k + 1].start
        elif k == len(events) - 1:
            item["EndTime"] = e.start  # AWS closes the terminal transition at once
        item["StatusMessage"] = e.message
        out.append(item)
    return out


def _channel(name: str, bucket: str, project: str, sharded: bool, rng: Random) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": f"s3://{bucket}/{project}/data/{name}/",
                "S3DataDistributionType": "ShardedByS3Key" if sharded else "FullyReplicated",
            }
        },
        "ContentType": rng.choice(("application/x-parquet", "text/csv", "application/jsonlines")),
        "CompressionType": "None",
        "RecordWrapperType": "None",
    }


def _metric_value(name: str, rng: Random) -> float:
    if "accuracy" in name or "auc" in name or "f1" in name:
        return round(rng.uniform(0.6, 0.995), 6)
    if "learning_rate" in name:
        return round(10 ** rng.uniform(-6, -3), 9)
    if "rmse" in name:
        return round(rng.uniform(0.1, 5.0), 6)
    return round(rng.uniform(0.02, 1.5), 6)


def to_datetimes(value: Any, key_name: str = "") -> Any:
    """Wire form -> what boto3 hands back: epoch floats become aware UTC datetimes (new containers throughout)."""
    kind = type(value)
    if kind is dict:
        # Leaves inline, containers by recursion: bench.generate converts a million responses.
        out = {}
        for k, v in value.items():
            leaf = type(v)
            if leaf is float:
                if k.endswith("Time") or k == "Timestamp":
                    v = datetime.fromtimestamp(v, UTC)
            elif leaf is not str and leaf is not int and leaf is not bool and v is not None:
                v = to_datetimes(v, k)
            out[k] = v
        return out
    if kind is list:
        return [to_datetimes(v, key_name) for v in value]
    if isinstance(value, dict):
        return {k: to_datetimes(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [to_datetimes(v, key_name) for v in value]
    if isinstance(value, float) and (key_name.endswith("Time") or key_name == "Timestamp"):
        return datetime.fromtimestamp(value, UTC)
    return value
