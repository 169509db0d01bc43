"""CloudWatch Logs over real HTTP: DescribeLogStreams and GetLogEvents with AWS's token semantics."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from simulator import SimulatedSageMaker

from .conftest import client_for
from .shapes import assert_valid, output_shape

GROUP = "/aws/sagemaker/TrainingJobs"


@pytest.fixture
def logs(sim: SimulatedSageMaker) -> Any:
    return client_for(sim, service="logs")


def _valid(response: dict[str, Any], op: str) -> dict[str, Any]:
    response.pop("ResponseMetadata", None)
    assert_valid(response, output_shape(op, "logs"))
    return response


def _streams(logs: Any, prefix: str, **kwargs: Any) -> list[dict[str, Any]]:
    page = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=prefix, **kwargs)
    return _valid(page, "DescribeLogStreams")["logStreams"]


def _read_all(logs: Any, stream: str) -> tuple[list[dict[str, Any]], str]:
    """Walk a stream from its head by forward tokens until AWS hands the same token back."""
    events: list[dict[str, Any]] = []
    token = None
    while True:
        kwargs = {"nextToken": token} if token else {"startFromHead": True}
        page = _valid(logs.get_log_events(logGroupName=GROUP, logStreamName=stream, limit=25, **kwargs), "GetLogEvents")
        events += page["events"]
        if page["nextForwardToken"] == token:
            assert page["events"] == []
            return events, token
        token = page["nextForwardToken"]


def _jobs(sim: SimulatedSageMaker, status: str) -> list[dict[str, Any]]:
    return [d for n in sim.job_names() if (d := sim.describe(n))["TrainingJobStatus"] == status]


def test_one_stream_per_host_named_like_sagemakers(sim: Any, logs: Any) -> None:
    d = next(d for d in reversed(_jobs(sim, "Completed")) if d["ResourceConfig"].get("InstanceCount", 1) > 1)
    name, count = d["TrainingJobName"], d["ResourceConfig"]["InstanceCount"]
    streams = _streams(logs, name)
    pattern = re.compile(rf"{re.escape(name)}/algo-(\d+)-(\d+)")
    hosts = {int(m.group(1)) for s in streams if (m := pattern.fullmatch(s["logStreamName"]))}
    assert hosts == set(range(1, count + 1)) and len(streams) % count == 0
    assert [s["logStreamName"] for s in streams] == sorted(s["logStreamName"] for s in streams)
    for s in streams:
        assert s["firstEventTimestamp"] <= s["lastEventTimestamp"] <= s["lastIngestionTime"]
        assert s["firstEventTimestamp"] >= d["TrainingStartTime"].timestamp() * 1000
    # Paged one at a time, the same streams come back.
    paged, token = [], None
    while True:
        page = logs.describe_log_streams(
            logGroupName=GROUP, logStreamNamePrefix=name, limit=1, **({"nextToken": token} if token else {})
        )
        paged += [s["logStreamName"] for s in page["logStreams"]]
        token = page.get("nextToken")
        if not token:
            break
    assert paged == [s["logStreamName"] for s in streams]
    newest = _streams(logs, name, descending=True)
    assert [s["logStreamName"] for s in newest] == [s["logStreamName"] for s in reversed(streams)]


def test_jobs_that_never_started_writing_have_no_streams(sim: Any, logs: Any) -> None:
    early = [
        d
        for d in _jobs(sim, "Failed") + _jobs(sim, "InProgress")
        if not any(t["Status"] == "Downloading" for t in d["SecondaryStatusTransitions"])
    ]
    assert early
    for d in early[:5]:
        assert _streams(logs, d["TrainingJobName"]) == []


def test_a_stream_read_from_the_head_ends_in_the_upload(sim: Any, logs: Any) -> None:
    d = _jobs(sim, "Completed")[-1]
    stream = _streams(logs, d["TrainingJobName"] + "/algo-1")[-1]["logStreamName"]
    events, _ = _read_all(logs, stream)
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    assert "Uploading model artifacts" in events[-1]["message"]
    # The default read is the tail, the same lines.
    tail = logs.get_log_events(logGroupName=GROUP, logStreamName=stream)["events"]
    assert tail == events[-len(tail) :] and len(tail) == len(events)
    # The loss a log line prints is the final metric.
    finals = {m["MetricName"]: m["Value"] for m in d["FinalMetricDataList"]}
    metric, value = next(iter(finals.items()))
    last = [e["message"] for e in events if f"{metric}=" in e["message"]][-1]
    regex = next(m["Regex"] for m in d["AlgorithmSpecification"]["MetricDefinitions"] if m["Name"] == metric)
    assert float(re.search(regex, last).group(1)) == value  # type: ignore[union-attr]


def test_forward_tokens_return_only_new_lines_and_the_same_token_when_none(sim: Any, logs: Any) -> None:
    d = next(d for d in reversed(_jobs(sim, "InProgress")) if d["SecondaryStatus"] == "Training")
    stream = _streams(logs, d["TrainingJobName"] + "/algo-1")[-1]["logStreamName"]
    events, token = _read_all(logs, stream)
    now_ms = sim.clock.timestamp() * 1000
    assert events and all(e["ingestionTime"] <= now_ms for e in events)
    again = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, nextToken=token)
    assert again["events"] == [] and again["nextForwardToken"] == token
    sim.clock.advance(300)
    new = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, nextToken=token)
    assert new["events"], "five minutes of training write lines"
    assert min(e["timestamp"] for e in new["events"]) >= events[-1]["timestamp"]
    assert not {(e["timestamp"], e["message"]) for e in new["events"]} & {
        (e["timestamp"], e["message"]) for e in events
    }
    assert all(e["ingestionTime"] <= sim.clock.timestamp() * 1000 for e in new["events"])
    assert new["nextForwardToken"] != token
    assert _read_all(logs, stream)[0] == events + new["events"]


def test_backward_tokens_and_time_bounds(sim: Any, logs: Any) -> None:
    d = _jobs(sim, "Completed")[-1]
    stream = _streams(logs, d["TrainingJobName"] + "/algo-1")[-1]["logStreamName"]
    events, _ = _read_all(logs, stream)
    page = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, limit=5)
    assert page["events"] == events[-5:]
    back = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, limit=5, nextToken=page["nextBackwardToken"])
    assert back["events"] == events[-10:-5]
    start, end = events[3]["timestamp"], events[8]["timestamp"]
    bounded = logs.get_log_events(
        logGroupName=GROUP, logStreamName=stream, startTime=start, endTime=end, startFromHead=True
    )
    assert bounded["events"] == [e for e in events if start <= e["timestamp"] < end]


def test_an_algorithm_error_ends_in_the_traceback_and_failure_reason(sim: Any, logs: Any) -> None:
    d = next(d for d in reversed(_jobs(sim, "Failed")) if d.get("FailureReason", "").startswith("AlgorithmError"))
    stream = _streams(logs, d["TrainingJobName"] + "/algo-1")[-1]["logStreamName"]
    messages = [e["message"] for e in logs.get_log_events(logGroupName=GROUP, logStreamName=stream, limit=30)["events"]]
    reason = [line for line in d["FailureReason"].split("\n") if line.strip()]
    assert messages[-len(reason) :] == reason
    assert any("Reporting training FAILURE" in m for m in messages)
    if "Traceback" in d["FailureReason"]:
        assert "Traceback (most recent call last):" in messages


def test_unknown_group_and_stream_are_not_found(sim: Any, logs: Any) -> None:
    with pytest.raises(ClientError) as err:
        logs.describe_log_streams(logGroupName="/aws/lambda/x")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        logs.get_log_events(logGroupName=GROUP, logStreamName=f"{sim.job_names()[0]}/algo-9-1")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix="x", orderBy="LastEventTime")
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"


def test_listing_without_a_prefix_walks_every_stream_in_name_order(sim: Any, logs: Any) -> None:
    names, token = [], None
    for _ in range(4):
        page = logs.describe_log_streams(logGroupName=GROUP, **({"nextToken": token} if token else {}))
        names += [s["logStreamName"] for s in page["logStreams"]]
        token = page["nextToken"]
    assert len(names) == 200 and names == sorted(names) and len(set(names)) == 200


def test_throttling_is_the_logs_shape_and_retried(sim: Any) -> None:
    sim.faults.throttle_rate = 1.0
    with pytest.raises(ClientError) as err:
        client_for(sim, 2, service="logs").describe_log_streams(logGroupName=GROUP)
    response = err.value.response
    assert response["Error"]["Code"] == "ThrottlingException" and response["Error"]["Message"] == "Rate exceeded"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400 and response["ResponseMetadata"]["RetryAttempts"] == 1
    assert sim.stats["calls"]["DescribeLogStreams"] == 2
