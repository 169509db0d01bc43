"""SEARCH over real HTTP: the simulated account evaluates it, and the sync asks each job's hosts with one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from django.utils import timezone

from jobs import cloudwatch_sync, ingest, sagemaker
from jobs.domain import cloudwatch as cw
from jobs.domain.parse import parse_training_job
from jobs.models import MetricSeries, Source
from simulator import SimulatedSageMaker

from .conftest import START, client_for
from .shapes import assert_valid, output_shape

WIDE = {"StartTime": START - timedelta(days=20), "EndTime": START + timedelta(days=1)}


@pytest.fixture
def cw_client(sim: SimulatedSageMaker) -> Any:
    return client_for(sim, service="cloudwatch")


def _running(sim: SimulatedSageMaker) -> list[dict[str, Any]]:
    return [
        d
        for n in sim.job_names()
        if (d := sim.describe(n))["TrainingJobStatus"] == "InProgress" and d.get("TrainingStartTime")
    ]


def _explicit(cw_client: Any, keys: list[cw.SeriesKey]) -> dict[cw.SeriesKey, list[float]]:
    got = cw_client.get_metric_data(
        MetricDataQueries=[key.query(f"e{i}") for i, key in enumerate(keys)], ScanBy="TimestampAscending", **WIDE
    )["MetricDataResults"]
    return {keys[int(r["Id"][1:])]: r["Values"] for r in got if r["Values"]}


def test_search_returns_one_labelled_result_per_host_and_metric(sim: Any, cw_client: Any) -> None:
    d = max(_running(sim), key=lambda d: d["ResourceConfig"].get("InstanceCount", 1))
    name, count = d["TrainingJobName"], d["ResourceConfig"].get("InstanceCount", 1)
    keys = cw.series_for_job(
        name, metric_names=[], instance_count=count, instance_type=d["ResourceConfig"]["InstanceType"]
    )
    search = cw.host_searches(keys)[0]
    response = cw_client.get_metric_data(MetricDataQueries=[search.query("s0")], ScanBy="TimestampAscending", **WIDE)
    response.pop("ResponseMetadata", None)
    assert_valid(response, output_shape("GetMetricData", "cloudwatch"))
    results = response["MetricDataResults"]
    assert {r["Id"] for r in results} == {"s0"}
    labels = [r["Label"] for r in results]
    assert len(labels) == len(set(labels))
    expected = _explicit(cw_client, keys)
    assert {f"{k.host} {k.name}" for k in expected} == set(labels)  # every series with data, and nothing else
    by_label = {r["Label"]: r["Values"] for r in results}
    for key, values in expected.items():
        assert by_label[f"{key.host} {key.name}"] == values
    # A job whose name is a prefix of another's gets only its own hosts: the hosts are named exactly.
    assert all(label.startswith(f"{name}/algo-") for label in labels)


def test_search_terms_partial_match_not_and_errors(sim: Any, cw_client: Any) -> None:
    name = _running(sim)[0]["TrainingJobName"]
    ns = '{"/aws/sagemaker/TrainingJobs",Host}'

    def labels(expression: str) -> set[str]:
        query = {"Id": "s", "Expression": expression, "Label": cw.SEARCH_LABEL}
        return {r["Label"] for r in cw_client.get_metric_data(MetricDataQueries=[query], **WIDE)["MetricDataResults"]}

    every = labels(f"SEARCH('{ns} Host=\"{name}/algo-1\"', 'Average', 60)")
    assert f"{name}/algo-1 CPUUtilization" in every
    assert labels(f"SEARCH('{ns} Host=\"{name}/algo-1\" MetricName=Utilization NOT GPU', 'Maximum', 300)") == {
        label for label in every if "GPU" not in label
    }
    assert labels(f"SEARCH('{ns} Host=\"{name}/algo-1\" MetricName=\"CPU\"', 'Average', 60)") == set()
    assert labels(f"SEARCH('{{AWS/EC2,InstanceId}} Host=\"{name}/algo-1\"', 'Average', 60)") == set()
    for bad in (
        f"SEARCH('{ns} Host=\"{name}/algo-1\"', 'Median', 60)",
        f"SEARCH('{ns} (Host=\"{name}/algo-1\"', 'Average', 60)",
        f"SEARCH('{ns} CPUUtilization', 'Average', 60)",  # names no job: the whole account
        "m1 * 2",
    ):
        with pytest.raises(ClientError) as caught:
            cw_client.get_metric_data(MetricDataQueries=[{"Id": "s", "Expression": bad}], **WIDE)
        assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"


@pytest.mark.django_db
def test_sync_asks_each_jobs_hosts_with_one_search(sim: Any, cw_client: Any, settings: Any) -> None:
    settings.TRAINWATCH_CLOUDWATCH_SEARCH = True
    cloudwatch_sync._NO_SEARCH.clear()
    sagemaker.reset_clients()
    source = Source.objects.create(name="sim-search", region="us-east-1", endpoint_url=sim.endpoint_url)
    described = _running(sim)[:20]
    for d in described:
        ingest.store_description(source, parse_training_job(d), d, now=timezone.now(), tags={})
    sent: list[list[dict[str, Any]]] = []
    client = sagemaker.client_for(sagemaker.SourceConfig.of(source), sagemaker.CLOUDWATCH)
    client.meta.events.register(
        "provide-client-params.monitoring.GetMetricData", lambda params, **kw: sent.append(params["MetricDataQueries"])
    )
    now = sim.clock.now()
    report = cloudwatch_sync.run(source, now=now)
    assert report.errors == 0 and report.points
    queries = [q for call in sent for q in call]
    searches = [q for q in queries if "Expression" in q]
    assert len(searches) == len(described)  # one per job (none has more than 16 hosts)
    assert len(queries) == len(searches) + sum(len(d["AlgorithmSpecification"]["MetricDefinitions"]) for d in described)
    # Every host series the simulated account has is stored, mapped back to its host.
    for d in described:
        name = d["TrainingJobName"]
        stored = set(MetricSeries.objects.filter(job__name=name).exclude(host="").values_list("host", "name"))
        count = d["ResourceConfig"].get("InstanceCount", 1)
        listed = {
            (m["Dimensions"][0]["Value"], m["MetricName"])
            for n in range(1, count + 1)
            for m in cw_client.list_metrics(Dimensions=[{"Name": "Host", "Value": f"{name}/algo-{n}"}])["Metrics"]
        }
        assert stored == listed
    assert source.pk not in cloudwatch_sync._NO_SEARCH
    # A steady cycle a minute on: the same one SEARCH per job, only the new points.
    sent.clear()
    sim.clock.advance(60)
    steady = cloudwatch_sync.run(source, now=now + timedelta(minutes=1))
    assert steady.errors == 0 and 0 < steady.points < report.points
    assert sum("Expression" in q for call in sent for q in call) == len(described)
    assert len(sent) == 1
