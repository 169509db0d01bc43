"""GET /api/jobs/ and /api/jobs/<id>/: shape, filters, pagination, auth, queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token

from jobs.api import JobPagination
from jobs.models import TrainingJob
from tests.factories import T0, make_job, make_source

LIST_FIELDS = {
    "id",
    "name",
    "arn",
    "status",
    "secondary_status",
    "failure_reason",
    "creation_time",
    "training_start_time",
    "training_end_time",
    "last_modified_time",
    "instance_type",
    "instance_count",
    "billable_seconds",
    "reported_billable_seconds",
    "estimated_cost",
    "cost_basis",
    "billed_seconds",
    "gone_at_source",
    "source",
    "tags",
    "final_metrics",
}


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user("staff", "staff@example.org", "password", is_staff=True)


@pytest.fixture
def api(client: Client, teammate: User) -> Client:
    client.force_login(teammate)
    return client


def _names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


def _jobs(n: int, **kwargs) -> None:
    for i in range(n):
        make_job(f"job-{i:03d}", created=T0 + timedelta(minutes=i), **kwargs)


# --- auth -------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_is_refused(client: Client) -> None:
    make_job()
    for url in ("/api/jobs/", "/api/jobs/1/"):
        response = client.get(url)
        assert response.status_code in (401, 403)
        assert "results" not in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["teammate", "staff", "owner"])
def test_any_logged_in_user_reads(client: Client, request, who: str) -> None:
    job = make_job()
    client.force_login(request.getfixturevalue(who))
    assert _names(client.get("/api/jobs/")) == [job.name]
    assert client.get(f"/api/jobs/{job.pk}/").status_code == 200


def test_token_auth(client: Client, teammate: User) -> None:
    make_job()
    token = Token.objects.create(user=teammate)
    response = client.get("/api/jobs/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert _names(response) == ["resnet-50-001"]
    assert client.get("/api/jobs/", HTTP_AUTHORIZATION="Token not-a-real-token").status_code in (401, 403)


def test_writes_are_not_allowed(api: Client) -> None:
    job = make_job()
    assert api.post("/api/jobs/", {}).status_code in (403, 405)
    assert api.delete(f"/api/jobs/{job.pk}/").status_code in (403, 405)


# --- shape ------------------------------------------------------------------


def test_list_row(api: Client) -> None:
    make_job(tags={"team": "vision", "project": "resnet"})
    body = api.get("/api/jobs/").json()
    assert set(body) == {"count", "count_capped", "next", "previous", "results"}
    assert body["count"] == 1 and body["count_capped"] is False
    assert body["next"] is None and body["previous"] is None
    row = body["results"][0]
    assert set(row) == LIST_FIELDS
    assert row["status"] == "Completed"
    assert row["arn"] == "arn:aws:sagemaker:us-east-1:123456789012:training-job/resnet-50-001"
    assert row["creation_time"] == "2026-11-20T12:00:00Z"
    assert row["training_start_time"] == "2026-11-20T12:05:00Z"
    assert row["training_end_time"] == "2026-11-20T13:05:00Z"
    assert row["instance_type"] == "ml.p3.2xlarge" and row["instance_count"] == 2
    # One hour on two instances, both computed and as AWS reports it.
    assert row["billable_seconds"] == 7200
    assert row["reported_billable_seconds"] == 7200
    # Two instance-hours at the seeded ml.p3.2xlarge price, from AWS's figure.
    assert row["estimated_cost"] == pytest.approx(7.65)
    assert row["cost_basis"] == "aws" and row["billed_seconds"] == 7200
    assert row["source"] == "default"
    assert row["tags"] == {"team": "vision", "project": "resnet"}
    assert sorted(row["final_metrics"], key=lambda m: m["name"]) == [
        {"name": "train:loss", "value": 0.25},
        {"name": "validation:accuracy", "value": 0.91},
    ]


def test_running_job_billable_so_far(api: Client) -> None:
    make_job("live", status="InProgress")
    with time_machine.travel(T0 + timedelta(minutes=35), tick=False):
        row = api.get("/api/jobs/").json()["results"][0]
    # Started at T0+5min: 30 minutes on two instances so far; AWS reports nothing yet.
    assert row["billable_seconds"] == 3600
    assert row["reported_billable_seconds"] is None
    assert row["training_end_time"] is None
    assert row["estimated_cost"] == pytest.approx(3.825, abs=0.006)  # half an hour at 3.825 x 2
    assert row["cost_basis"] == "running so far"


def test_spot_job_is_priced_from_aws_billable_time(api: Client) -> None:
    # An hour of training with 68 % spot savings: AWS bills 1152 s per instance.
    job = make_job("spot", EnableManagedSpotTraining=True, TrainingTimeInSeconds=3600, BillableTimeInSeconds=1152)
    row = api.get("/api/jobs/").json()["results"][0]
    detail = api.get(f"/api/jobs/{job.pk}/").json()
    for data in (row, detail):
        assert data["cost_basis"] == "aws"
        assert data["billed_seconds"] == 2 * 1152
        assert data["estimated_cost"] == pytest.approx(2.45)  # not 7.65, start to end


def test_cost_basis_is_start_to_end_without_aws_figure(api: Client) -> None:
    make_job("plain", BillableTimeInSeconds=None)
    row = api.get("/api/jobs/").json()["results"][0]
    assert row["cost_basis"] == "start-to-end" and row["estimated_cost"] == pytest.approx(7.65)


def test_unpriced_instance_has_no_cost(api: Client) -> None:
    make_job(ResourceConfig={"InstanceType": "ml.x99.huge", "InstanceCount": 1, "VolumeSizeInGB": 5})
    assert api.get("/api/jobs/").json()["results"][0]["estimated_cost"] is None


def test_timestamps_are_utc_whatever_the_time_zone(api: Client, settings) -> None:
    settings.TIME_ZONE = "Asia/Tokyo"
    job = make_job()
    assert api.get("/api/jobs/").json()["results"][0]["creation_time"] == "2026-11-20T12:00:00Z"
    detail = api.get(f"/api/jobs/{job.pk}/").json()
    assert detail["transitions"][0]["start_time"] == "2026-11-20T12:00:00Z"


def test_detail(api: Client) -> None:
    job = make_job("broken", status="Failed")
    body = api.get(f"/api/jobs/{job.pk}/").json()
    assert set(body) >= LIST_FIELDS
    assert body["failure_reason"].startswith("AlgorithmError: RuntimeError: CUDA out of memory")
    assert body["hyperparameters"] == {"epochs": "10", "lr": "0.001"}
    assert [t["status"] for t in body["transitions"]] == ["Starting", "Training", "Failed"]
    assert body["transitions"][0] == {
        "status": "Starting",
        "start_time": "2026-11-20T12:00:00Z",
        "end_time": "2026-11-20T12:05:00Z",
        "message": "Preparing the instances",
    }
    assert body["volume_size_gb"] == 50
    assert body["max_runtime_seconds"] == 86400
    assert body["output_path"] == "s3://bucket/output"
    assert body["model_artifacts"] == "s3://bucket/output/broken/model.tar.gz"
    assert body["role_arn"].endswith(":role/SageMakerRole")
    assert body["region"] == "us-east-1"
    assert body["is_spot"] is False
    assert body["input_channels"]
    assert "raw" not in body


def test_detail_unknown_job_is_404(api: Client) -> None:
    assert api.get("/api/jobs/999999/").status_code == 404


def test_failure_reason_is_returned_as_text(api: Client) -> None:
    reason = '<script>alert("x")</script>\nline two ✓'
    make_job("xss", status="Failed", FailureReason=reason)
    response = api.get("/api/jobs/")
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["results"][0]["failure_reason"] == reason


# --- pagination -------------------------------------------------------------


def test_pagination(api: Client) -> None:
    _jobs(5)
    first = api.get("/api/jobs/", {"page_size": 2}).json()
    assert first["count"] == 5
    assert [r["name"] for r in first["results"]] == ["job-004", "job-003"]
    assert first["previous"] is None
    assert "page=2" in first["next"] and "page_size=2" in first["next"]
    third = api.get(first["next"].replace("page=2", "page=3")).json()
    assert [r["name"] for r in third["results"]] == ["job-000"]
    assert third["next"] is None and "page_size=2" in third["previous"]


def test_pagination_keeps_the_filter(api: Client) -> None:
    _jobs(3)
    make_job("other", status="Failed")
    body = api.get("/api/jobs/", {"status": "Completed", "page_size": 1}).json()
    assert body["count"] == 3
    assert "status=Completed" in body["next"]


def test_page_size_default_and_cap(api: Client) -> None:
    assert JobPagination.page_size == 50
    assert JobPagination.max_page_size == 1000
    _jobs(3)
    assert len(api.get("/api/jobs/", {"page_size": 100000}).json()["results"]) == 3


def test_default_page_size_is_50(api: Client) -> None:
    _jobs(51)
    body = api.get("/api/jobs/").json()
    assert body["count"] == 51 and len(body["results"]) == 50 and body["next"]


def test_page_out_of_range_is_404(api: Client) -> None:
    _jobs(2)
    assert api.get("/api/jobs/", {"page": 9}).status_code == 404
    assert api.get("/api/jobs/", {"page": 0}).status_code == 404
    assert api.get("/api/jobs/", {"page": "nonsense"}).status_code == 404


def test_an_empty_list_is_a_page_not_a_404(api: Client) -> None:
    body = api.get("/api/jobs/").json()
    assert body["count"] == 0 and body["results"] == [] and body["next"] is None


def test_a_bad_page_size_is_the_default(api: Client) -> None:
    _jobs(51)
    for size in ("nonsense", "0", "-3"):
        assert len(api.get("/api/jobs/", {"page_size": size}).json()["results"]) == 50


def test_count_is_capped_and_paging_goes_on_past_the_cap(api: Client, monkeypatch) -> None:
    from jobs import paging

    monkeypatch.setattr(paging, "COUNT_CAP", 2)
    _jobs(5)
    first = api.get("/api/jobs/", {"page_size": 2}).json()
    assert first["count"] == 2 and first["count_capped"] is True
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()
    assert [r["name"] for r in second["results"] + third["results"]] == ["job-002", "job-001", "job-000"]
    assert third["next"] is None and "page=2" in third["previous"]
    assert "page=" not in second["previous"]


# --- filters (the page's JobFilter) -----------------------------------------


def test_filters(api: Client) -> None:
    other = make_source("prod-eu", region="eu-west-1")
    make_job("resnet-a", tags={"team": "vision"})
    make_job("resnet-b", status="Failed", tags={"team": "nlp"}, created=T0 + timedelta(days=2))
    make_job(
        "bert-c",
        source=other,
        tags={"team": "nlp", "owner": "ana"},
        created=T0 + timedelta(days=4),
        ResourceConfig={"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
        TuningJobArn="arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/tune-1",
    )
    make_job("live", status="InProgress", created=T0 + timedelta(days=1))

    def names(**query) -> set[str]:
        return set(_names(api.get("/api/jobs/", query)))

    assert names() == {"resnet-a", "resnet-b", "bert-c", "live"}
    assert names(status="Failed") == {"resnet-b"}
    assert names(secondary_status="Training") == {"live"}
    assert names(instance_type="ml.g5.xlarge") == {"bert-c"}
    assert names(source="prod-eu") == {"bert-c"}
    assert names(tuning_job="arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/tune-1") == {"bert-c"}
    assert names(tag="team=nlp") == {"resnet-b", "bert-c"}
    assert names(tag="owner") == {"bert-c"}
    assert names(created_after="2026-11-21") == {"resnet-b", "bert-c", "live"}
    assert names(created_before="2026-11-21") == {"resnet-a", "live"}
    assert names(created_after="2026-11-21T12:00:00Z", created_before="2026-11-23T12:00:00Z") == {
        "resnet-b",
        "live",
    }
    assert names(q="RESNET") == {"resnet-a", "resnet-b"}
    assert names(name="resnet") == set()
    assert names(name="resnet-a") == {"resnet-a"}
    assert names(created_after="not-a-date") == {"resnet-a", "resnet-b", "bert-c", "live"}


def test_sorts(api: Client) -> None:
    make_job("b", created=T0)
    make_job("a", created=T0 + timedelta(hours=1))
    make_job("c", created=T0 + timedelta(hours=2), FinalMetricDataList=[{"MetricName": "train:loss", "Value": 0.9}])
    assert _names(api.get("/api/jobs/")) == ["c", "a", "b"]
    assert _names(api.get("/api/jobs/", {"sort": "name"})) == ["a", "b", "c"]
    assert _names(api.get("/api/jobs/", {"sort": "-name"})) == ["c", "b", "a"]
    assert _names(api.get("/api/jobs/", {"sort": "created"})) == ["b", "a", "c"]
    # Sorting by a metric drops jobs without it, like the page.
    by_loss = api.get("/api/jobs/", {"metric": "train:loss", "sort": "-metric"})
    assert _names(by_loss) == ["c", "a", "b"]
    assert by_loss.json()["count"] == 3
    # "c" has no accuracy; a tie (both 0.91) falls back to the newest row first.
    by_accuracy = api.get("/api/jobs/", {"metric": "validation:accuracy", "sort": "metric"})
    assert _names(by_accuracy) == ["a", "b"]
    assert by_accuracy.json()["count"] == 2
    narrowed = api.get("/api/jobs/", {"metric": "validation:accuracy", "sort": "metric", "q": "b"})
    assert _names(narrowed) == ["b"] and narrowed.json()["count"] == 1


# --- queries ----------------------------------------------------------------


@pytest.mark.parametrize("size", [2, 12])
def test_list_queries_are_constant(api: Client, django_assert_num_queries, size: int) -> None:
    for i in range(size):
        make_job(f"job-{i}", status="InProgress" if i % 2 else "Completed", tags={"team": "vision", "i": str(i)})
    # Every column a row can read (LIST_FIELDS): one left out costs a query a row.
    finished = TrainingJob.objects.filter(status="Completed")
    finished.update(reported_billable_seconds=600, warm_pool_retained_seconds=60, described_at=T0)
    TrainingJob.objects.filter(pk=finished.first().pk).update(gone_at=T0)
    # session, user, price table, COUNT, page, metrics prefetch
    with django_assert_num_queries(6):
        response = api.get("/api/jobs/", {"page_size": 100})
    results = response.json()["results"]
    assert len(results) == size and sum(row["gone_at_source"] for row in results) == 1


@pytest.mark.parametrize("size", [2, 12])
def test_list_queries_with_token(client: Client, teammate: User, django_assert_num_queries, size: int) -> None:
    _jobs(size)
    token = Token.objects.create(user=teammate)
    # token+user, price table, COUNT, page, metrics prefetch
    with django_assert_num_queries(5):
        client.get("/api/jobs/", {"tag": "team=vision"}, HTTP_AUTHORIZATION=f"Token {token.key}")


@pytest.mark.parametrize("restarts", [0, 6])
def test_detail_queries_are_constant(api: Client, django_assert_num_queries, restarts: int) -> None:
    transitions = [
        {"Status": "Starting", "StartTime": T0 + timedelta(minutes=i), "EndTime": T0 + timedelta(minutes=i, seconds=30)}
        for i in range(restarts)
    ]
    metrics = [{"MetricName": f"m{i}", "Value": float(i)} for i in range(restarts)]
    job = make_job(SecondaryStatusTransitions=transitions or None, FinalMetricDataList=metrics)
    # session, user, price table, job+source, metrics, transitions
    with django_assert_num_queries(6):
        response = api.get(f"/api/jobs/{job.pk}/")
    assert len(response.json()["final_metrics"]) == restarts


def test_tag_filter_count(api: Client) -> None:
    make_job("nlp-1", tags={"team": "nlp"})
    make_job("nlp-2", status="Failed", tags={"team": "nlp"})
    make_job("vision-1", tags={"team": "vision"})
    assert api.get("/api/jobs/", {"tag": "team=nlp"}).json()["count"] == 2
    assert api.get("/api/jobs/", {"tag": "team"}).json()["count"] == 3
    assert api.get("/api/jobs/", {"tag": "team=nlp", "status": "Failed"}).json()["count"] == 1


@pytest.mark.parametrize("size", [2, 12])
def test_tag_and_status_queries_are_constant(api: Client, django_assert_num_queries, size: int) -> None:
    for i in range(size):
        make_job(f"job-{i}", status="Failed" if i % 2 else "Completed", tags={"team": "vision", "i": str(i)})
    # session, user, price table, COUNT, page, metrics
    with django_assert_num_queries(6):
        response = api.get("/api/jobs/", {"tag": "team=vision", "status": "Failed"})
    assert response.json()["count"] == size // 2
    assert len(response.json()["results"]) == size // 2
