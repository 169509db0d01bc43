"""The tuning job page: /tuning/<name>/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from jobs.models import FinalMetric, TrainingJob
from tests.factories import ACCOUNT, SHORT_XSS, T0, XSS, make_job

pytestmark = pytest.mark.django_db

NAME = "hpo-7"
TUNING_ARN = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:hyper-parameter-tuning-job/{NAME}"
URL = reverse("jobs:tuning", args=[NAME])


def _trial(i: int, *, status: str = "Completed", arn: str = TUNING_ARN, **metrics: float) -> TrainingJob:
    job = make_job(
        f"{NAME}-{i:03d}-abc",
        status=status,
        created=T0 + timedelta(minutes=i),
        TuningJobArn=arn,
        FinalMetricDataList=[],
        HyperParameters={"lr": f"0.0{i + 1}", "optimizer": "adam", "batch_size": str(32 * (i + 1))},
    )
    for name, value in metrics.items():
        FinalMetric.objects.create(job=job, name=name.replace("__", ":"), value=value)
    return job


def _three() -> list[TrainingJob]:
    return [
        _trial(0, validation__loss=0.40, validation__accuracy=0.80),
        _trial(1, validation__loss=0.20, validation__accuracy=0.70),
        _trial(2, validation__loss=0.30, validation__accuracy=0.95),
    ]


def test_login_required(client):
    _three()
    response = client.get(URL)
    assert response.status_code == 302 and "login" in response["Location"]


def test_unknown_tuning_job_is_404(client, logged_in):
    _three()
    make_job("lonely")
    assert client.get(reverse("jobs:tuning", args=["hpo"])).status_code == 404  # a prefix is not the name
    assert client.get(reverse("jobs:tuning", args=["nope"])).status_code == 404
    assert client.get(reverse("jobs:tuning", args=["HPO-7"])).status_code == 404  # on SQLite too


def test_trials_of_the_tuning_job_only(client, logged_in):
    trials = _three()
    make_job("other", TuningJobArn=TUNING_ARN + "-b")
    response = client.get(URL)
    assert response.status_code == 200
    assert [r["job"].pk for r in response.context["rows"]] == [t.pk for t in trials]
    assert response.context["keys"] == ["batch_size", "lr"]  # optimizer is categorical
    html = response.content.decode()
    for t in trials:
        assert reverse("jobs:detail", args=[t.pk]) in html
    assert "other" not in html


def test_default_objective_is_the_loss_and_lowest_wins(client, logged_in):
    _a, b, _c = _three()
    response = client.get(URL)
    assert response.context["objective"] == "validation:loss"
    assert response.context["direction"] == "min"
    assert response.context["best"] == b
    assert response.context["best_params"] == [("batch_size", "64"), ("lr", "0.02"), ("optimizer", "adam")]
    best_section = response.content.decode().split('id="tuning-best"')[1].split("</section>")[0]
    assert b.name in best_section and "0.2" in best_section


def test_chosen_objective_and_direction(client, logged_in):
    a, b, c = _three()
    assert client.get(URL, {"objective": "validation:accuracy"}).context["best"] == c
    assert client.get(URL, {"objective": "validation:accuracy", "direction": "min"}).context["best"] == b
    assert client.get(URL, {"objective": "validation:loss", "direction": "max"}).context["best"] == a
    # A metric no trial reported falls back to the default.
    response = client.get(URL, {"objective": "<nope>"})
    assert response.context["objective"] == "validation:loss" and response.context["best"] == b


def test_sort_by_objective(client, logged_in):
    a, b, c = _three()
    _trial(3, status="InProgress")  # no final metric yet: last either way
    d = TrainingJob.objects.get(name=f"{NAME}-003-abc")
    rows = client.get(URL, {"sort": "objective"}).context["rows"]
    assert [r["job"] for r in rows] == [b, c, a, d]
    rows = client.get(URL, {"sort": "-objective"}).context["rows"]
    assert [r["job"] for r in rows] == [a, c, b, d]
    rows = client.get(URL, {"sort": "bogus"}).context["rows"]
    assert [r["job"] for r in rows] == [a, b, c, d]


def test_progress_and_total_cost(client, logged_in):
    trials = _three()
    _trial(3, status="Failed")
    _trial(4, status="Stopped")
    _trial(5, status="InProgress")
    response = client.get(URL)
    progress = response.context["progress"]
    assert (progress["total"], progress["completed"], progress["failed"], progress["stopped"], progress["running"]) == (
        6,
        3,
        1,
        1,
        1,
    )
    costs = [r["data"]["estimated_cost"] for r in response.context["rows"]]
    assert progress["cost"] == pytest.approx(sum(c for c in costs if c is not None))
    assert progress["cost"] > 0 and len(trials) == 3


def test_one_scatter_per_numeric_hyperparameter(client, logged_in):
    _three()
    response = client.get(URL)
    plots = response.context["plots"]
    assert [p.title for p in plots] == ["batch_size", "lr"]
    assert all(len(p.dots) == 3 for p in plots)
    assert [d.best for d in plots[1].dots] == [False, True, False]
    assert response.content.decode().count("<circle") == 6


def test_query_count_does_not_grow_with_the_trials(client, logged_in, django_assert_num_queries):
    for i in range(3):
        _trial(i, validation__loss=0.1 * (i + 1))
    # session, user, trials, their metrics, the tuning job's description, prices
    with django_assert_num_queries(6):
        assert client.get(URL).status_code == 200
    for i in range(3, 30):
        _trial(i, validation__loss=0.1 * (i + 1))
    with django_assert_num_queries(6):
        response = client.get(URL, {"sort": "-objective"})
    assert len(response.context["rows"]) == 30


def test_hostile_names_are_escaped(client, logged_in):
    job = make_job(
        "hpo-x-001",
        TuningJobArn=TUNING_ARN,
        FinalMetricDataList=[],
        HyperParameters={XSS: "0.5", "lr": XSS},
    )
    FinalMetric.objects.create(job=job, name=XSS, value=1.0)
    FinalMetric.objects.create(
        job=make_job("hpo-x-002", TuningJobArn=TUNING_ARN, HyperParameters={XSS: "0.7"}), name=XSS, value=2.0
    )
    html = client.get(URL).content.decode()
    assert "<script>window.__xss" not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html


def test_hostile_tuning_job_name_is_escaped(client, logged_in):
    job = make_job(
        "hpo-y-001", TuningJobArn=f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:hyper-parameter-tuning-job/{SHORT_XSS}"
    )
    response = client.get(reverse("jobs:tuning", args=[SHORT_XSS]))
    assert response.status_code == 200
    assert "<img src=x" not in response.content.decode()
    assert "<img src=x" not in client.get(reverse("jobs:detail", args=[job.pk])).content.decode()


def test_linked_from_the_job_page_and_the_filtered_list(client, logged_in):
    job = _three()[0]
    html = client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert f'href="{URL}"' in html and f"tuning job {NAME}" in html
    html = client.get(reverse("jobs:index"), {"tuning_job": TUNING_ARN}).content.decode()
    assert f'href="{URL}"' in html


def test_trials_without_metrics_or_a_description_still_render(client, logged_in):
    _trial(0)  # no final metric, the tuning job never described
    response = client.get(URL)
    assert response.status_code == 200
    assert response.context["objective"] == "" and response.context["best"] is None
