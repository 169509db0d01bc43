"""The HTTP layer: JSON 1.1 protocol details, boto3 end to end, stats."""

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from simulator import SimulatedSageMaker

from .conftest import START, client_for
from .shapes import assert_valid, output_shape


def _post(sim: Any, target: str | None, body: bytes) -> tuple[int, dict[str, str], Any]:
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target:
        headers["X-Amz-Target"] = target
    req = urllib.request.Request(sim.endpoint_url + "/", data=body, headers=headers)
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


def test_responses_are_json_1_1_with_epoch_timestamps(sim: Any) -> None:
    status, headers, body = _post(sim, "SageMaker.ListTrainingJobs", b"{}")
    assert status == 200 and headers["Content-Type"] == "application/x-amz-json-1.1"
    assert headers["x-amzn-RequestId"]
    assert isinstance(body["TrainingJobSummaries"][0]["CreationTime"], float)


@pytest.mark.parametrize(
    ("target", "body", "code"),
    [
        ("SageMaker.CreateTrainingJob", b"{}", "UnknownOperationException"),
        ("Other.ListTrainingJobs", b"{}", "UnknownOperationException"),
        (None, b"{}", "UnknownOperationException"),
        ("SageMaker.ListTrainingJobs", b"{not json", "SerializationException"),
        ("SageMaker.ListTrainingJobs", b'{"MaxResults": 0}', "ValidationException"),
        ("SageMaker.ListTrainingJobs", b'{"MaxResults": 101}', "ValidationException"),
        ("SageMaker.ListTrainingJobs", b'{"SortBy": "Size"}', "ValidationException"),
        ("SageMaker.DescribeTrainingJob", b"{}", "ValidationException"),
    ],
)
def test_bad_requests_get_aws_shaped_errors(sim: Any, target: str | None, body: bytes, code: str) -> None:
    status, _, answer = _post(sim, target, body)
    assert status == 400
    assert answer["__type"] == code and answer["message"]


def test_boto3_parses_every_operation_and_responses_fit_the_model(sim: Any, client: Any) -> None:
    listing = client.list_training_jobs(MaxResults=100, SortBy="CreationTime", SortOrder="Descending")
    listing.pop("ResponseMetadata")
    assert_valid(listing, output_shape("ListTrainingJobs"))
    assert listing["TrainingJobSummaries"][0]["CreationTime"].utcoffset() is not None
    for summary in listing["TrainingJobSummaries"][:40]:
        name = summary["TrainingJobName"]
        d = client.describe_training_job(TrainingJobName=name)
        d.pop("ResponseMetadata")
        assert_valid(d, output_shape("DescribeTrainingJob"))
        assert d == sim.describe(name)
        tags = client.list_tags(ResourceArn=d["TrainingJobArn"])
        tags.pop("ResponseMetadata")
        assert_valid(tags, output_shape("ListTags"))
    found = client.search(Resource="TrainingJob", MaxResults=100)
    found.pop("ResponseMetadata")
    assert_valid(found, output_shape("Search"))
    assert (
        client.stop_training_job(
            TrainingJobName=next(
                n for n in reversed(sim.job_names()) if sim.describe(n)["TrainingJobStatus"] == "InProgress"
            )
        )["ResponseMetadata"]["HTTPStatusCode"]
        == 200
    )


def test_stats_count_calls_per_operation(sim: Any, client: Any) -> None:
    client.list_training_jobs()
    client.list_training_jobs()
    with pytest.raises(ClientError):
        client.describe_training_job(TrainingJobName="missing")
    stats = sim.stats
    assert stats["calls"]["ListTrainingJobs"] == 2 and stats["calls"]["DescribeTrainingJob"] == 1
    assert stats["calls"]["Search"] == 0 and stats["errors"]["ValidationException"] == 1
    assert stats["requests"] == 3
    sim.reset_stats()
    assert sim.stats["requests"] == 0


def test_endpoint_env_var_is_honoured(sim: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", sim.endpoint_url)
    assert boto3.client("sagemaker", region_name="us-east-1").list_training_jobs()["TrainingJobSummaries"]


def test_concurrent_clients(sim: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def work(_: int) -> int:
        c = client_for(sim)
        return len(c.list_training_jobs(MaxResults=50)["TrainingJobSummaries"])

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(work, range(16))) == [50] * 16
    assert sim.stats["calls"]["ListTrainingJobs"] == 16


def test_first_page_and_recent_changes_at_100k_jobs() -> None:
    # Speed is measured by bench/sync.py (simulator.first_page.*); this checks what it answers.
    with SimulatedSageMaker(jobs=100_000, seed=1, speed=0, start=START) as sim:
        client = client_for(sim)
        first = client.list_training_jobs(MaxResults=100, SortBy="CreationTime", SortOrder="Descending")
        names = [s["TrainingJobName"] for s in first["TrainingJobSummaries"]]
        assert names == sim.job_names()[::-1][:100]
        assert first["NextToken"]
        # The sync's usual query: only what changed in the last ten minutes, newest first.
        since = sim.clock.now().timestamp() - 600
        recent = client.list_training_jobs(MaxResults=100, LastModifiedTimeAfter=since, SortOrder="Descending")
        stamps = [s["LastModifiedTime"].timestamp() for s in recent["TrainingJobSummaries"]]
        assert stamps and all(t > since for t in stamps)
