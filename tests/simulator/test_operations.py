"""ListTrainingJobs / Search / ListTags semantics: filters, sorts, pagination."""

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from simulator import SimulatedSageMaker

from .conftest import START, client_for


@pytest.fixture(scope="module")
def msim() -> Any:
    with SimulatedSageMaker(jobs=300, seed=21, speed=0, start=START) as sim:
        yield sim


@pytest.fixture
def mclient(msim: SimulatedSageMaker) -> Any:
    return client_for(msim)


def _walk(client: Any, op: str, key: str, **kwargs: Any) -> list[Any]:
    items, pages, token = [], 0, kwargs.pop("NextToken", None)
    while True:
        page = getattr(client, op)(**kwargs, **({"NextToken": token} if token else {}))
        items += page[key]
        pages += 1
        token = page.get("NextToken")
        if not token:
            return items
        assert pages < 1000


def _truth(sim: SimulatedSageMaker) -> dict[str, dict[str, Any]]:
    return {n: sim.describe(n) for n in sim.job_names()}


@pytest.mark.parametrize("sort_by", ["CreationTime", "Name", "Status"])
@pytest.mark.parametrize("order", ["Ascending", "Descending"])
def test_walk_returns_every_job_once_in_order(msim: Any, mclient: Any, sort_by: str, order: str) -> None:
    got = _walk(mclient, "list_training_jobs", "TrainingJobSummaries", SortBy=sort_by, SortOrder=order, MaxResults=37)
    names = [s["TrainingJobName"] for s in got]
    assert Counter(names) == Counter(msim.job_names())
    key = {
        "CreationTime": lambda s: s["CreationTime"],
        "Name": lambda s: s["TrainingJobName"],
        "Status": lambda s: s["TrainingJobStatus"],
    }[sort_by]
    assert [key(s) for s in got] == sorted((key(s) for s in got), reverse=order == "Descending")


def test_default_page_is_ten_oldest_first(mclient: Any, msim: Any) -> None:
    page = mclient.list_training_jobs()
    assert [s["TrainingJobName"] for s in page["TrainingJobSummaries"]] == msim.job_names()[:10]
    assert "NextToken" in page


@pytest.mark.parametrize("quirk", [False, True])
def test_every_filter_matches_the_truth(msim: Any, mclient: Any, quirk: bool) -> None:
    msim.filter_after_page = quirk
    try:
        truth = _truth(msim)
        created = sorted(d["CreationTime"] for d in truth.values())
        modified = sorted(d["LastModifiedTime"] for d in truth.values())
        c_mid, m_mid = created[len(created) // 2], modified[len(modified) // 3]
        cases = [
            ({"StatusEquals": "Failed"}, lambda d: d["TrainingJobStatus"] == "Failed"),
            ({"StatusEquals": "InProgress"}, lambda d: d["TrainingJobStatus"] == "InProgress"),
            ({"NameContains": "HPO"}, lambda d: "hpo" in d["TrainingJobName"]),
            ({"CreationTimeAfter": c_mid}, lambda d: d["CreationTime"] > c_mid),
            ({"CreationTimeBefore": c_mid}, lambda d: d["CreationTime"] < c_mid),
            ({"LastModifiedTimeAfter": m_mid}, lambda d: d["LastModifiedTime"] > m_mid),
            ({"LastModifiedTimeBefore": m_mid}, lambda d: d["LastModifiedTime"] < m_mid),
            (
                {"WarmPoolStatusEquals": "Terminated"},
                lambda d: d.get("WarmPoolStatus", {}).get("Status") == "Terminated",
            ),
            (
                {"StatusEquals": "Completed", "CreationTimeAfter": c_mid - timedelta(days=2)},
                lambda d: d["TrainingJobStatus"] == "Completed" and d["CreationTime"] > c_mid - timedelta(days=2),
            ),
        ]
        for filters, pred in cases:
            expected = {n for n, d in truth.items() if pred(d)}
            assert expected, filters
            for sort_by in ("CreationTime", "Name", "Status"):
                got = _walk(
                    mclient,
                    "list_training_jobs",
                    "TrainingJobSummaries",
                    MaxResults=20,
                    SortBy=sort_by,
                    SortOrder="Descending",
                    **filters,
                )
                names = [s["TrainingJobName"] for s in got]
                assert len(names) == len(set(names)) and set(names) == expected, (filters, sort_by)
    finally:
        msim.filter_after_page = False


def test_quirk_mode_serves_empty_pages_with_a_token(msim: Any, mclient: Any) -> None:
    msim.filter_after_page = True
    try:
        page = mclient.list_training_jobs(MaxResults=5, NameContains="no-job-has-this-name")
        assert page["TrainingJobSummaries"] == [] and "NextToken" in page
    finally:
        msim.filter_after_page = False
    page = mclient.list_training_jobs(MaxResults=5, NameContains="no-job-has-this-name")
    assert page["TrainingJobSummaries"] == [] and "NextToken" not in page


def test_walk_descending_is_exact_while_new_jobs_arrive(make_sim: Any) -> None:
    sim = make_sim(jobs=300, seed=2)
    client = client_for(sim)
    before = set(sim.job_names())
    page = client.list_training_jobs(MaxResults=50, SortOrder="Descending")
    names = [s["TrainingJobName"] for s in page["TrainingJobSummaries"]]
    sim.clock.advance(86400)  # ~21 new jobs arrive at the front
    names += [
        s["TrainingJobName"]
        for s in _walk(
            client,
            "list_training_jobs",
            "TrainingJobSummaries",
            MaxResults=50,
            SortOrder="Descending",
            NextToken=page["NextToken"],
        )
    ]
    assert len(names) == len(set(names)) and set(names) == before
    assert len(sim.job_names()) > len(before)


def test_bad_tokens_and_parameters_are_validation_errors(mclient: Any, msim: Any) -> None:
    token = mclient.list_training_jobs(MaxResults=1)["NextToken"]
    for kwargs in ({"NextToken": "garbage!"}, {"NextToken": token, "SortBy": "Name"}):
        with pytest.raises(ClientError) as err:
            mclient.list_training_jobs(**kwargs)
        assert err.value.response["Error"]["Code"] == "ValidationException"


def test_search_filters_sorts_and_pages(msim: Any, mclient: Any) -> None:
    truth = _truth(msim)
    cutoff = sorted(d["LastModifiedTime"] for d in truth.values())[200]
    expr = {
        "Filters": [
            {"Name": "LastModifiedTime", "Operator": "GreaterThanOrEqualTo", "Value": cutoff.isoformat()},
            {"Name": "TrainingJobStatus", "Operator": "In", "Value": "Completed,Failed"},
        ]
    }
    results = _walk(mclient, "search", "Results", Resource="TrainingJob", SearchExpression=expr, MaxResults=7)
    records = [r["TrainingJob"] for r in results]
    expected = {
        n
        for n, d in truth.items()
        if d["LastModifiedTime"] >= cutoff and d["TrainingJobStatus"] in ("Completed", "Failed")
    }
    assert {r["TrainingJobName"] for r in records} == expected and len(records) == len(expected)
    stamps = [r["LastModifiedTime"] for r in records]
    assert stamps == sorted(stamps, reverse=True)  # default: LastModifiedTime, Descending
    first = records[0]
    assert first == {**truth[first["TrainingJobName"]], "Tags": msim.tags(first["TrainingJobName"])}

    by_name = _walk(
        mclient,
        "search",
        "Results",
        Resource="TrainingJob",
        SortBy="TrainingJobName",
        SortOrder="Ascending",
        MaxResults=100,
        SearchExpression={"Filters": [{"Name": "TrainingJobName", "Operator": "Contains", "Value": "pytorch"}]},
    )
    names = [r["TrainingJob"]["TrainingJobName"] for r in by_name]
    assert names == sorted(n for n in truth if "pytorch" in n)


def test_search_by_tag_nested_and_or(msim: Any, mclient: Any) -> None:
    truth_tags = {n: {t["Key"]: t["Value"] for t in msim.tags(n)} for n in msim.job_names()}
    got = _walk(
        mclient,
        "search",
        "Results",
        Resource="TrainingJob",
        MaxResults=100,
        SearchExpression={
            "Operator": "Or",
            "Filters": [
                {"Name": "Tags.team", "Operator": "Equals", "Value": "vision"},
                {"Name": "Tags.project", "Operator": "Equals", "Value": "churn"},
            ],
        },
    )
    expected = {n for n, tags in truth_tags.items() if tags["team"] == "vision" or tags["project"] == "churn"}
    assert {r["TrainingJob"]["TrainingJobName"] for r in got} == expected
    got = _walk(
        mclient,
        "search",
        "Results",
        Resource="TrainingJob",
        MaxResults=100,
        SearchExpression={
            "NestedFilters": [
                {
                    "NestedPropertyName": "InputDataConfig",
                    "Filters": [{"Name": "InputDataConfig.ChannelName", "Value": "validation"}],
                }
            ],
            "Filters": [{"Name": "Metrics.validation:accuracy", "Operator": "GreaterThan", "Value": "0.9"}],
        },
    )
    for r in got:
        job = r["TrainingJob"]
        assert "validation" in [c["ChannelName"] for c in job["InputDataConfig"]]
        assert {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}["validation:accuracy"] > 0.9
    assert got


def test_search_by_names_and_running_status(msim: Any, mclient: Any) -> None:
    # The sync's two Search shapes; the simulator answers them without a full scan.
    truth = _truth(msim)
    names = msim.job_names()[5:25]
    expr = {
        "Operator": "Or",
        "Filters": [{"Name": "TrainingJobName", "Operator": "Equals", "Value": n} for n in names[:15]]
        + [{"Name": "TrainingJobName", "Operator": "In", "Value": ",".join([*names[15:], "no-such-job"])}],
    }
    got = _walk(mclient, "search", "Results", Resource="TrainingJob", SearchExpression=expr, MaxResults=7)
    assert sorted(r["TrainingJob"]["TrainingJobName"] for r in got) == sorted(names)
    assert all(
        r["TrainingJob"] == {**truth[n], "Tags": msim.tags(n)}
        for r in got
        for n in [r["TrainingJob"]["TrainingJobName"]]
    )
    by_creation = mclient.search(
        Resource="TrainingJob", SearchExpression=expr, SortBy="CreationTime", SortOrder="Ascending", MaxResults=100
    )
    assert [r["TrainingJob"]["TrainingJobName"] for r in by_creation["Results"]] == names

    running = _walk(
        mclient,
        "search",
        "Results",
        Resource="TrainingJob",
        MaxResults=100,
        SearchExpression={"Filters": [{"Name": "TrainingJobStatus", "Operator": "Equals", "Value": "InProgress"}]},
    )
    expected = {n for n, d in truth.items() if d["TrainingJobStatus"] == "InProgress"}
    assert expected and {r["TrainingJob"]["TrainingJobName"] for r in running} == expected


def test_search_rejects_other_resources(mclient: Any) -> None:
    with pytest.raises(ClientError) as err:
        mclient.search(Resource="Endpoint")
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_list_tags_and_unknown_resources(msim: Any, mclient: Any) -> None:
    name = msim.job_names()[3]
    arn = msim.describe(name)["TrainingJobArn"]
    tags = mclient.list_tags(ResourceArn=arn)["Tags"]
    assert {t["Key"] for t in tags} >= {"team", "project"} and tags == msim.tags(name)
    for call, kwargs in (
        (mclient.list_tags, {"ResourceArn": arn.replace(name, "missing-job")}),
        (mclient.describe_training_job, {"TrainingJobName": "missing-job"}),
        (mclient.stop_training_job, {"TrainingJobName": "missing-job"}),
    ):
        with pytest.raises(ClientError) as err:
            call(**kwargs)
        assert err.value.response["Error"]["Code"] == "ValidationException"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "not found" in str(err.value)


def test_stopping_a_terminal_job_is_rejected(msim: Any, mclient: Any) -> None:
    done = next(n for n in msim.job_names() if msim.describe(n)["TrainingJobStatus"] == "Completed")
    with pytest.raises(ClientError) as err:
        mclient.stop_training_job(TrainingJobName=done)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "Completed" in err.value.response["Error"]["Message"]
