"""parse_training_job / parse_summary, on responses checked against botocore's model."""

from datetime import UTC, datetime, timedelta, timezone

import boto3
import pytest
from botocore.stub import Stubber

from jobs.domain.parse import MAX_LENGTHS, MalformedResponse, clean_json, parse_summary, parse_training_job
from jobs.models import FinalMetric, StatusTransition, TrainingJob
from tests.factories import T0, describe_response


def _through_stubber(response: dict) -> dict:
    """Validate a response against the real output shape, as boto3 would see it."""
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response("describe_training_job", response, {"TrainingJobName": response["TrainingJobName"]})
        return client.describe_training_job(TrainingJobName=response["TrainingJobName"])


def test_completed_job_parses_every_field_the_pages_use():
    job = parse_training_job(_through_stubber(describe_response("bert-base-7", status="Completed")))
    assert job.name == "bert-base-7"
    assert job.arn.endswith(":training-job/bert-base-7")
    assert job.status == "Completed"
    assert job.instance_type == "ml.p3.2xlarge"
    assert job.instance_count == 2
    assert job.training_start_time == T0 + timedelta(minutes=5)
    assert job.training_end_time == T0 + timedelta(minutes=65)
    assert job.reported_billable_seconds == 3600
    assert job.hyperparameters == {"epochs": "10", "lr": "0.001"}
    assert job.input_channels[0]["uri"] == "s3://bucket/train"
    assert [t.status for t in job.transitions] == ["Starting", "Training", "Completed"]
    assert {m.name: m.value for m in job.metrics} == {"validation:accuracy": 0.91, "train:loss": 0.25}
    assert job.model_artifacts.endswith("model.tar.gz")
    assert job.max_runtime_seconds == 86400


def test_failed_job_without_training_times_parses():
    response = describe_response("oom-1", status="Failed")
    for member in ("TrainingStartTime", "TrainingEndTime", "TrainingTimeInSeconds", "BillableTimeInSeconds"):
        del response[member]
    job = parse_training_job(_through_stubber(response))
    assert job.training_start_time is None
    assert job.reported_billable_seconds is None
    assert "CUDA out of memory" in job.failure_reason


def test_unknown_statuses_are_kept_as_sent():
    job = parse_training_job(
        describe_response(status="Completed", TrainingJobStatus="Pausing", SecondaryStatus="Hibernating")
    )
    assert (job.status, job.secondary_status) == ("Pausing", "Hibernating")


def test_instance_groups_are_summed_and_selected_count_wins():
    groups = [
        {"InstanceGroupName": "a", "InstanceType": "ml.p4d.24xlarge", "InstanceCount": 2},
        {"InstanceGroupName": "b", "InstanceType": "ml.c5.2xlarge", "InstanceCount": 3},
    ]
    job = parse_training_job(
        _through_stubber(describe_response(ResourceConfig={"InstanceGroups": groups, "VolumeSizeInGB": 30}))
    )
    assert job.instance_count == 5
    assert job.instance_type == "ml.p4d.24xlarge"
    assert len(job.instance_groups) == 2
    selected = describe_response(
        ResourceConfig={
            "InstanceType": "ml.g5.xlarge",
            "InstanceCount": 4,
            "SelectedInstanceCount": 3,
            "VolumeSizeInGB": 30,
        }
    )
    assert parse_training_job(selected).instance_count == 3


def test_instance_preferences_stand_in_until_sagemaker_selects():
    preferences = [
        {"InstanceType": "ml.p4d.24xlarge", "InstanceCount": 2},
        {"InstanceType": "ml.p5.48xlarge", "InstanceCount": 1},
    ]
    waiting = _through_stubber(
        describe_response(ResourceConfig={"InstancePreferences": preferences, "VolumeSizeInGB": 30})
    )
    job = parse_training_job(waiting)
    assert (job.instance_type, job.instance_count) == ("ml.p4d.24xlarge", 2)
    selected = describe_response(
        ResourceConfig={
            "InstancePreferences": preferences,
            "SelectedInstanceType": "ml.p5.48xlarge",
            "SelectedInstanceCount": 1,
            "VolumeSizeInGB": 30,
        }
    )
    job = parse_training_job(_through_stubber(selected))
    assert (job.instance_type, job.instance_count) == ("ml.p5.48xlarge", 1)
    with pytest.raises(MalformedResponse, match="InstancePreferences"):
        parse_training_job(describe_response(ResourceConfig={"InstancePreferences": ["ml.p5.48xlarge"]}))


def test_timestamps_are_stored_in_utc():
    eastern = timezone(timedelta(hours=-5))
    job = parse_training_job(describe_response(created=datetime(2026, 11, 20, 7, 0, tzinfo=eastern)))
    assert job.creation_time == datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert job.creation_time.utcoffset() == timedelta(0)


@pytest.mark.parametrize("member", ["TrainingJobName", "TrainingJobArn", "TrainingJobStatus", "CreationTime"])
def test_missing_required_member_is_malformed(member):
    response = describe_response("broken-1")
    del response[member]
    with pytest.raises(MalformedResponse, match=member):
        parse_training_job(response)


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ({"CreationTime": "yesterday"}, "CreationTime"),
        ({"ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": "2"}}, "InstanceCount"),
        ({"ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": True}}, "InstanceCount"),
        ({"HyperParameters": {"epochs": 10}}, "HyperParameters"),
        ({"SecondaryStatusTransitions": [{"Status": "Training"}]}, "SecondaryStatusTransitions[0]"),
        ({"FinalMetricDataList": [{"MetricName": "loss", "Value": "low"}]}, "FinalMetricDataList[0].Value"),
        ({"TrainingJobStatus": 3}, "TrainingJobStatus"),
    ],
)
def test_wrong_types_are_malformed_and_name_the_member(override, path):
    with pytest.raises(MalformedResponse) as info:
        parse_training_job(describe_response("typed-1", **override))
    assert info.value.job_name == "typed-1"
    assert path in str(info.value)


def test_non_object_response_is_malformed():
    with pytest.raises(MalformedResponse):
        parse_training_job(["not", "a", "dict"])


def test_summary_parses_and_rejects_missing_arn():
    summary = {
        "TrainingJobName": "a",
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:1:training-job/a",
        "CreationTime": T0,
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Training",
        "LastModifiedTime": T0,
    }
    assert parse_summary(summary).status == "InProgress"
    del summary["TrainingJobArn"]
    with pytest.raises(MalformedResponse, match="TrainingJobArn"):
        parse_summary(summary)


# The columns each MAX_LENGTHS entry guards: parse refuses what they cannot hold.
GUARDED = {
    "TrainingJobName": [(TrainingJob, "name")],
    "TrainingJobArn": [(TrainingJob, "arn")],
    "TrainingJobStatus": [(TrainingJob, "status")],
    "SecondaryStatus": [(TrainingJob, "secondary_status"), (StatusTransition, "status")],
    "InstanceType": [(TrainingJob, "instance_type")],
    "Algorithm": [(TrainingJob, "algorithm")],
    "S3Uri": [(TrainingJob, "output_path"), (TrainingJob, "model_artifacts")],
    "RoleArn": [(TrainingJob, "role_arn")],
    "TuningJobArn": [(TrainingJob, "tuning_job_arn")],
    "LabelingJobArn": [(TrainingJob, "labeling_job_arn")],
    "WarmPoolStatus": [(TrainingJob, "warm_pool_status")],
    "MetricName": [(FinalMetric, "name")],
}


def test_max_lengths_match_the_columns_they_guard():
    assert set(GUARDED) == set(MAX_LENGTHS)
    widths = {
        (name, model.__name__, field): model._meta.get_field(field).max_length
        for name, columns in GUARDED.items()
        for model, field in columns
    }
    assert widths == {(name, model, field): MAX_LENGTHS[name] for name, model, field in widths}


def test_clean_json_replaces_only_what_no_json_column_holds():
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    cleaned = clean_json(
        {"a\x00": ["nul\x00", "lone \ud800", float("nan"), float("inf"), 1.5, 2, True, None, moment], "b": b"\xff"}
    )
    assert cleaned == {"a\ufffd": ["nul\ufffd", "lone ?", "nan", "inf", 1.5, 2, True, None, moment], "b": "\ufffd"}
