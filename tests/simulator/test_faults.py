"""Every fault mode reaches boto3 as AWS would send it."""

import json
import urllib.request
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from simulator import Faults
from simulator.faults import MALFORMATIONS, malform

from .conftest import client_for


@pytest.mark.parametrize(
    ("attr", "code", "status"),
    [
        ("throttle_rate", "ThrottlingException", 400),
        ("server_error_rate", "InternalFailure", 500),
        ("unavailable_rate", "ServiceUnavailable", 503),
    ],
)
def test_error_faults_reach_boto3(sim: Any, attr: str, code: str, status: int) -> None:
    client = client_for(sim)
    setattr(sim.faults, attr, 1.0)
    with pytest.raises(ClientError) as err:
        client.list_training_jobs()
    assert err.value.response["Error"]["Code"] == code
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    if code == "ThrottlingException":
        assert err.value.response["Error"]["Message"] == "Rate exceeded"
    assert sim.stats["faults"][attr.removesuffix("_rate")] == 1


@pytest.mark.parametrize("attr", ["throttle_rate", "server_error_rate", "unavailable_rate"])
def test_botocore_retries_throttling_and_5xx(sim: Any, attr: str) -> None:
    client = client_for(sim, attempts=2)
    setattr(sim.faults, attr, 1.0)
    with pytest.raises(ClientError) as err:
        client.describe_training_job(TrainingJobName=sim.job_names()[0])
    assert err.value.response["ResponseMetadata"]["RetryAttempts"] == 1
    assert sim.stats["calls"]["DescribeTrainingJob"] == 2


def test_validation_errors_are_not_retried(sim: Any) -> None:
    client = client_for(sim, attempts=3)
    with pytest.raises(ClientError):
        client.describe_training_job(TrainingJobName="missing")
    assert sim.stats["calls"]["DescribeTrainingJob"] == 1


def test_retry_recovers_from_occasional_throttling(sim: Any) -> None:
    client = client_for(sim, attempts=10)
    sim.faults.throttle_rate = 0.3
    for _ in range(6):
        client.list_training_jobs(MaxResults=1)
    stats = sim.stats
    assert stats["faults"]["throttle"] > 0
    assert stats["calls"]["ListTrainingJobs"] == 6 + stats["faults"]["throttle"]


def test_dropped_connection_is_a_connection_error(sim: Any) -> None:
    client = client_for(sim, attempts=1)
    sim.faults.drop_rate = 1.0
    with pytest.raises(ConnectionClosedError):
        client.list_training_jobs()
    assert sim.stats["faults"]["drop"] == 1
    sim.faults.drop_rate = 0.0
    assert client.list_training_jobs()["TrainingJobSummaries"]


def test_latency_is_added(sim: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import simulator.server

    waited: list[float] = []
    # The server's own pause, recorded instead of slept: no wall-clock timing in tests.
    monkeypatch.setattr(simulator.server, "time", SimpleNamespace(sleep=waited.append))
    client = client_for(sim)
    client.list_training_jobs(MaxResults=1)
    assert waited == []
    sim.faults.latency_ms = 150
    client.list_training_jobs(MaxResults=1)
    assert waited == [0.15]


def _raw_describe(sim: Any, name: str) -> tuple[int, Any]:
    req = urllib.request.Request(
        sim.endpoint_url + "/",
        data=json.dumps({"TrainingJobName": name}).encode(),
        headers={"X-Amz-Target": "SageMaker.DescribeTrainingJob", "Content-Type": "application/x-amz-json-1.1"},
    )
    with urllib.request.urlopen(req) as resp:
        return resp.status, json.loads(resp.read())


def test_malformed_describes_are_parseable_json_and_break_the_contract(sim: Any) -> None:
    name = sim.job_names()[-1]
    truth = sim.describe(name)
    sim.faults.malformed_rate = 1.0
    seen = set()
    for _ in range(40):
        status, body = _raw_describe(sim, name)
        assert status == 200
        if "TrainingJobStatus" not in body:
            seen.add("missing_status")
        elif body["TrainingJobStatus"] not in ("InProgress", "Completed", "Failed", "Stopping", "Stopped"):
            seen.add("unknown_status")
        elif isinstance(body["CreationTime"], str):
            seen.add("creation_time_string")
        elif isinstance(body["ResourceConfig"].get("InstanceCount"), str):
            seen.add("instance_count_string")
        elif body["SecondaryStatus"] != truth["SecondaryStatus"]:
            seen.add("unknown_secondary")
    assert seen == set(MALFORMATIONS)
    assert sim.stats["faults"]["malformed"] == 40
    # Only DescribeTrainingJob is malformed; the truth is untouched.
    assert sim.describe(name) == truth
    client = client_for(sim)
    assert client.list_training_jobs()["TrainingJobSummaries"]


def test_a_malformed_search_page_breaks_one_record(sim: Any) -> None:
    names = sim.job_names()[:5]
    expr = {"Operator": "Or", "Filters": [{"Name": "TrainingJobName", "Value": n} for n in names]}
    truth = {n: {**sim.describe(n), "Tags": sim.tags(n)} for n in names}
    sim.faults.malformed_rate = 1.0
    req = urllib.request.Request(
        sim.endpoint_url,
        data=json.dumps({"Resource": "TrainingJob", "SearchExpression": expr, "MaxResults": 100}).encode(),
        headers={"X-Amz-Target": "SageMaker.Search", "Content-Type": "application/x-amz-json-1.1"},
    )
    with urllib.request.urlopen(req) as resp:
        records = [r["TrainingJob"] for r in json.loads(resp.read())["Results"]]
    assert len(records) == 5
    intact = [r for r in records if r == json.loads(json.dumps(truth[r["TrainingJobName"]], default=_epoch))]
    assert len(intact) == 4
    assert sim.stats["faults"]["malformed"] == 1


def _epoch(value: Any) -> float:
    return value.timestamp()


def test_boto3_hands_malformed_members_through_or_fails_to_parse(sim: Any) -> None:
    client = client_for(sim)
    sim.faults.malformed_rate = 1.0
    outcomes = set()
    for _ in range(30):
        try:
            d = client.describe_training_job(TrainingJobName=sim.job_names()[-1])
        except Exception as exc:  # a non-date CreationTime cannot be parsed by botocore
            outcomes.add(type(exc).__name__)
        else:
            outcomes.add("parsed")
            assert d["TrainingJobName"]
    assert "parsed" in outcomes


def test_faults_are_deterministic_per_seed(make_sim: Any) -> None:
    runs = []
    for _ in range(2):
        sim = make_sim(jobs=20, seed=99, faults=Faults(throttle_rate=0.5))
        client = client_for(sim)
        codes = []
        for _ in range(20):
            try:
                client.list_training_jobs(MaxResults=1)
                codes.append("ok")
            except ClientError as exc:
                codes.append(exc.response["Error"]["Code"])
        runs.append(codes)
    assert runs[0] == runs[1] and "ok" in runs[0] and "ThrottlingException" in runs[0]


def test_malform_variants_leave_json_types() -> None:
    base = {
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "CreationTime": 1.0,
        "ResourceConfig": {"InstanceCount": 2},
    }
    for variant in MALFORMATIONS:
        bad = malform(base, variant)
        assert bad != base and json.loads(json.dumps(bad)) == bad
    assert base["ResourceConfig"]["InstanceCount"] == 2
