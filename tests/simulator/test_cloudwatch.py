"""CloudWatch over real HTTP: GetMetricData and ListMetrics as botocore sends them (JSON 1.0 and rpc-v2-cbor)."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from simulator import SimulatedSageMaker

from .conftest import START, client_for
from .shapes import assert_valid, output_shape

NS = "/aws/sagemaker/TrainingJobs"
WIDE = {"StartTime": START - timedelta(days=20), "EndTime": START + timedelta(days=1)}


@pytest.fixture
def cw(sim: SimulatedSageMaker) -> Any:
    return client_for(sim, service="cloudwatch")


def _jobs(sim: SimulatedSageMaker, status: str) -> list[dict[str, Any]]:
    return [d for n in sim.job_names() if (d := sim.describe(n))["TrainingJobStatus"] == status]


def _query(qid: str, name: str, dim: str, value: str, period: int = 60, stat: str = "Average") -> dict[str, Any]:
    metric = {"Namespace": NS, "MetricName": name, "Dimensions": [{"Name": dim, "Value": value}]}
    return {"Id": qid, "MetricStat": {"Metric": metric, "Period": period, "Stat": stat}}


def _valid(response: dict[str, Any], op: str) -> dict[str, Any]:
    response.pop("ResponseMetadata", None)
    assert_valid(response, output_shape(op, "cloudwatch"))
    return response


def test_algorithm_metrics_are_the_metric_definitions_and_end_at_the_final_metrics(sim: Any, cw: Any) -> None:
    for d in _jobs(sim, "Completed")[-12:]:
        name = d["TrainingJobName"]
        listed = _valid(cw.list_metrics(Dimensions=[{"Name": "TrainingJobName", "Value": name}]), "ListMetrics")
        defined = [m["Name"] for m in d["AlgorithmSpecification"]["MetricDefinitions"]]
        assert [m["MetricName"] for m in listed["Metrics"]] == defined
        finals = {m["MetricName"]: m["Value"] for m in d["FinalMetricDataList"]}
        queries = [_query(f"m{k}", n, "TrainingJobName", name) for k, n in enumerate(defined)]
        got = _valid(
            cw.get_metric_data(MetricDataQueries=queries, ScanBy="TimestampAscending", **WIDE), "GetMetricData"
        )
        for q, result in zip(queries, got["MetricDataResults"], strict=True):
            metric = q["MetricStat"]["Metric"]["MetricName"]
            assert result["StatusCode"] == "Complete" and result["Label"] == metric
            assert result["Values"][-1] == finals[metric]
            assert result["Timestamps"] == sorted(result["Timestamps"])
            assert d["TrainingStartTime"] <= result["Timestamps"][0]
            assert result["Timestamps"][-1] <= d["TrainingEndTime"]
            if "loss" in metric:
                assert result["Values"][0] > result["Values"][-1]


def test_instance_metrics_per_host_summed_over_gpus(sim: Any, cw: Any) -> None:
    d = next(
        d
        for d in reversed(_jobs(sim, "Completed"))
        if d["ResourceConfig"].get("InstanceType") in ("ml.g5.12xlarge", "ml.p3.16xlarge", "ml.p4d.24xlarge")
        or d["ResourceConfig"].get("InstanceCount", 1) > 1
    )
    name, count = d["TrainingJobName"], d["ResourceConfig"].get("InstanceCount", 1)
    for n in range(1, count + 1):
        host = f"{name}/algo-{n}"
        listed = cw.list_metrics(Namespace=NS, Dimensions=[{"Name": "Host", "Value": host}])["Metrics"]
        names = {m["MetricName"] for m in listed}
        assert {"CPUUtilization", "MemoryUtilization", "DiskUtilization"} <= names
        got = cw.get_metric_data(
            MetricDataQueries=[_query(f"q{k}", m, "Host", host) for k, m in enumerate(sorted(names))], **WIDE
        )
        for r in got["MetricDataResults"]:
            assert r["Values"] and all(v >= 0 for v in r["Values"])
            assert min(r["Timestamps"]) >= d["CreationTime"]
    assert not cw.list_metrics(Dimensions=[{"Name": "Host", "Value": f"{name}/algo-{count + 1}"}])["Metrics"]


def test_running_curves_grow_with_the_clock_and_never_show_the_future(sim: Any, cw: Any) -> None:
    d = next(d for d in reversed(_jobs(sim, "InProgress")) if d["SecondaryStatus"] == "Training")
    name = d["TrainingJobName"]
    metric = d["AlgorithmSpecification"]["MetricDefinitions"][0]["Name"]
    queries = [
        _query("loss", metric, "TrainingJobName", name),
        _query("cpu", "CPUUtilization", "Host", f"{name}/algo-1"),
    ]
    before = cw.get_metric_data(MetricDataQueries=queries, ScanBy="TimestampAscending", **WIDE)["MetricDataResults"]
    now = sim.clock.now()
    assert all(ts <= now for r in before for ts in r["Timestamps"])
    sim.clock.advance(600)
    after = cw.get_metric_data(MetricDataQueries=queries, ScanBy="TimestampAscending", **WIDE)["MetricDataResults"]
    for old, new in zip(before, after, strict=True):
        assert new["Timestamps"][: len(old["Timestamps"])] == old["Timestamps"]
        assert new["Values"][: len(old["Values"])] == old["Values"]  # repeated fetches agree
        assert len(new["Values"]) > len(old["Values"])
        assert max(new["Timestamps"]) <= sim.clock.now()
    # An incremental fetch asks only for what is new.
    since = before[0]["Timestamps"][-1] + timedelta(seconds=60)
    tail = cw.get_metric_data(MetricDataQueries=queries[:1], StartTime=since, EndTime=WIDE["EndTime"])
    assert sorted(tail["MetricDataResults"][0]["Timestamps"]) == after[0]["Timestamps"][len(before[0]["Timestamps"]) :]


def test_period_and_statistic_are_honoured(sim: Any, cw: Any) -> None:
    d = _jobs(sim, "Completed")[-1]
    host = f"{d['TrainingJobName']}/algo-1"
    raw = cw.get_metric_data(MetricDataQueries=[_query("r", "CPUUtilization", "Host", host)], **WIDE)
    points = dict(zip(raw["MetricDataResults"][0]["Timestamps"], raw["MetricDataResults"][0]["Values"], strict=True))
    start = WIDE["StartTime"]
    for stat in ("Maximum", "Minimum", "SampleCount", "Sum", "Average"):
        got = cw.get_metric_data(MetricDataQueries=[_query("a", "CPUUtilization", "Host", host, 300, stat)], **WIDE)
        result = got["MetricDataResults"][0]
        assert result["Timestamps"] == sorted(result["Timestamps"], reverse=True)  # TimestampDescending by default
        for ts, value in zip(result["Timestamps"], result["Values"], strict=True):
            assert (ts - start).total_seconds() % 300 == 0
            inside = [v for t, v in points.items() if ts <= t < ts + timedelta(seconds=300)]
            expected = {
                "Maximum": max(inside),
                "Minimum": min(inside),
                "SampleCount": len(inside),
                "Sum": sum(inside),
                "Average": sum(inside) / len(inside),
            }[stat]
            assert value == pytest.approx(expected, abs=1e-5)


def test_pages_of_max_datapoints_add_up_to_one_call(sim: Any, cw: Any) -> None:
    d = _jobs(sim, "Completed")[-1]
    name = d["TrainingJobName"]
    queries = [
        _query(f"m{k}", m["Name"], "TrainingJobName", name)
        for k, m in enumerate(d["AlgorithmSpecification"]["MetricDefinitions"])
    ]
    queries.append(_query("cpu", "CPUUtilization", "Host", f"{name}/algo-1"))
    whole = cw.get_metric_data(MetricDataQueries=queries, **WIDE)["MetricDataResults"]
    merged: dict[str, list[Any]] = {q["Id"]: [] for q in queries}
    token, pages = None, 0
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = _valid(cw.get_metric_data(MetricDataQueries=queries, MaxDatapoints=7, **WIDE, **kwargs), "GetMetricData")
        pages += 1
        assert sum(len(r["Values"]) for r in page["MetricDataResults"]) <= 7
        for r in page["MetricDataResults"]:
            merged[r["Id"]] += list(zip(r["Timestamps"], r["Values"], strict=True))
        token = page.get("NextToken")
        if not token:
            break
        assert any(r["StatusCode"] == "PartialData" for r in page["MetricDataResults"])
    total = sum(len(r["Values"]) for r in whole)
    assert pages == -(-total // 7)
    for r in whole:
        assert merged[r["Id"]] == list(zip(r["Timestamps"], r["Values"], strict=True))
    with pytest.raises(ClientError) as err:
        cw.get_metric_data(MetricDataQueries=queries[:1], NextToken=token or "bogus", **WIDE)
    assert err.value.response["Error"]["Code"] == "InvalidNextToken"


def test_request_limits(sim: Any, cw: Any) -> None:
    name = sim.job_names()[-1]
    many = [_query(f"q{k}", "CPUUtilization", "Host", f"{name}/algo-1") for k in range(501)]
    with pytest.raises(ClientError) as err:
        cw.get_metric_data(MetricDataQueries=many, **WIDE)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    ok = cw.get_metric_data(MetricDataQueries=many[:500], **WIDE)
    assert len(ok["MetricDataResults"]) == 500
    unknown = cw.get_metric_data(MetricDataQueries=[_query("x", "CPUUtilization", "Host", "nope/algo-1")], **WIDE)
    assert unknown["MetricDataResults"][0]["Values"] == []


def test_list_metrics_walks_every_job_in_pages(sim: Any, cw: Any) -> None:
    seen: list[tuple[str, str]] = []
    token, pages = None, 0
    while True:
        page = _valid(cw.list_metrics(Namespace=NS, **({"NextToken": token} if token else {})), "ListMetrics")
        pages += 1
        assert len(page["Metrics"]) <= 500
        seen += [(m["MetricName"], m["Dimensions"][0]["Value"]) for m in page["Metrics"]]
        token = page.get("NextToken")
        if not token:
            break
    assert pages > 1 and len(seen) == len(set(seen))
    done = _jobs(sim, "Completed")[-1]["TrainingJobName"]
    assert ("CPUUtilization", f"{done}/algo-1") in seen
    only = cw.list_metrics(Namespace=NS, MetricName="CPUUtilization")["Metrics"]
    assert only and {m["MetricName"] for m in only} == {"CPUUtilization"}
    assert cw.list_metrics(Namespace="AWS/EC2")["Metrics"] == []


def _cbor_client(sim: SimulatedSageMaker, tmp_path: Path, attempts: int = 1) -> Any:
    """A CloudWatch client that speaks rpc-v2-cbor: botocore's own model, with only that protocol listed."""
    session = botocore.session.get_session()
    data = copy.deepcopy(session.get_service_data("cloudwatch"))
    data["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
    data["metadata"]["protocol"] = "smithy-rpc-v2-cbor"
    folder = tmp_path / "cloudwatch" / data["metadata"]["apiVersion"]
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(data))
    fresh = botocore.session.get_session()
    fresh.get_component("data_loader").search_paths.insert(0, str(tmp_path))
    client = fresh.create_client(
        "cloudwatch",
        endpoint_url=sim.endpoint_url,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
    )
    assert client.meta.service_model.resolved_protocol == "smithy-rpc-v2-cbor"
    return client


def test_rpc_v2_cbor_answers_like_json(sim: Any, cw: Any, tmp_path: Path) -> None:
    cbor = _cbor_client(sim, tmp_path)
    d = _jobs(sim, "Completed")[-1]
    dims = [{"Name": "TrainingJobName", "Value": d["TrainingJobName"]}]
    assert _valid(cbor.list_metrics(Dimensions=dims), "ListMetrics") == _valid(
        cw.list_metrics(Dimensions=dims), "ListMetrics"
    )
    queries = [
        _query("a", m["MetricName"], "TrainingJobName", d["TrainingJobName"]) for m in d["FinalMetricDataList"][:1]
    ]
    via_cbor = _valid(cbor.get_metric_data(MetricDataQueries=queries, **WIDE), "GetMetricData")
    assert via_cbor == _valid(cw.get_metric_data(MetricDataQueries=queries, **WIDE), "GetMetricData")
    assert via_cbor["MetricDataResults"][0]["Values"][0] == d["FinalMetricDataList"][0]["Value"]
    assert sim.stats["calls"]["GetMetricData"] == 2


@pytest.mark.parametrize("protocol", ["json", "cbor"])
def test_throttling_is_cloudwatchs_and_botocore_retries_it(sim: Any, protocol: str, tmp_path: Path) -> None:
    def client(attempts: int) -> Any:
        if protocol == "cbor":
            return _cbor_client(sim, tmp_path / str(attempts), attempts)
        return client_for(sim, attempts, service="cloudwatch")

    sim.faults.throttle_rate = 1.0
    with pytest.raises(ClientError) as err:
        client(1).list_metrics(Namespace=NS)
    error = err.value.response["Error"]
    assert (error["Code"], error["Type"], error["Message"]) == ("Throttling", "Sender", "Rate exceeded")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    sim.reset_stats()
    with pytest.raises(ClientError) as err:
        client(2).get_metric_data(MetricDataQueries=[_query("a", "CPUUtilization", "Host", "x/algo-1")], **WIDE)
    assert err.value.response["ResponseMetadata"]["RetryAttempts"] == 1  # botocore counts it retryable
    assert sim.stats["calls"]["GetMetricData"] == 2


def test_points_are_the_same_on_a_rebuilt_account(make_sim: Any) -> None:
    a, b = make_sim(jobs=50, seed=4), make_sim(jobs=50, seed=4)
    name = next(n for n in a.job_names() if a.describe(n)["TrainingJobStatus"] == "Completed")
    q = [_query("c", "MemoryUtilization", "Host", f"{name}/algo-1")]
    one = client_for(a, service="cloudwatch").get_metric_data(MetricDataQueries=q, **WIDE)["MetricDataResults"]
    two = client_for(b, service="cloudwatch").get_metric_data(MetricDataQueries=q, **WIDE)["MetricDataResults"]
    assert one == two and one[0]["Values"]


@pytest.mark.parametrize(
    ("attr", "service", "code", "status"),
    [
        ("server_error_rate", "cloudwatch", "InternalServiceError", 500),
        ("unavailable_rate", "cloudwatch", "ServiceUnavailable", 503),
        ("server_error_rate", "logs", "ServiceUnavailableException", 500),
        ("unavailable_rate", "logs", "ServiceUnavailable", 503),
    ],
)
def test_5xx_faults_reach_cloudwatch_and_logs(sim: Any, attr: str, service: str, code: str, status: int) -> None:
    setattr(sim.faults, attr, 1.0)
    client = client_for(sim, service=service)
    with pytest.raises(ClientError) as err:
        if service == "logs":
            client.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs")
        else:
            client.list_metrics(Namespace=NS)
    assert err.value.response["Error"]["Code"] == code
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
