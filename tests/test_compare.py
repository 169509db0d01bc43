"""The compare page: /compare/?ids=..."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from jobs.models import FinalMetric, TrainingJob
from tests.cloudwatch_rows import series_points, store_series
from tests.factories import T0, XSS, make_job

pytestmark = pytest.mark.django_db

URL = reverse("jobs:compare")


def _jobs(count: int) -> list[TrainingJob]:
    return [
        make_job(f"cmp-{i:02d}", created=T0 + timedelta(minutes=i), HyperParameters={"epochs": "10", "lr": f"0.00{i}"})
        for i in range(count)
    ]


def _ids(jobs: list[TrainingJob]) -> str:
    return ",".join(str(j.pk) for j in jobs)


def _metric(job: TrainingJob, name: str, value: float) -> None:
    FinalMetric.objects.update_or_create(job=job, name=name, defaults={"value": value})


def test_login_required(client):
    jobs = _jobs(2)
    response = client.get(URL, {"ids": _ids(jobs)})
    assert response.status_code == 302 and "login" in response["Location"]


def test_one_column_per_job_in_the_order_asked(client, logged_in):
    a, b, c = _jobs(3)
    response = client.get(URL, {"ids": f"{c.pk},{a.pk},{b.pk}"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("cmp-02") < html.index("cmp-00") < html.index("cmp-01")
    for job in (a, b, c):
        assert reverse("jobs:detail", args=[job.pk]) in html
    assert "ml.p3.2xlarge \u00d7 2" in html


def test_repeated_ids_parameters_are_one_selection(client, logged_in):
    a, b = _jobs(2)
    response = client.get(f"{URL}?ids={a.pk}&ids={b.pk}&ids={a.pk}")
    assert response.status_code == 200
    assert [c["job"].pk for c in response.context["columns"]] == [a.pk, b.pk]


def test_figures_are_the_api_s(client, logged_in):
    a, b = _jobs(2)
    response = client.get(URL, {"ids": _ids([a, b])})
    api = client.get(reverse("api-job", args=[a.pk])).json()
    data = response.context["columns"][0]["data"]
    assert data["billable_seconds"] == api["billable_seconds"]
    assert data["estimated_cost"] == api["estimated_cost"]
    assert data["cost_basis"] == api["cost_basis"]


def test_only_differing_hyperparameters_are_highlighted(client, logged_in):
    a, b = _jobs(2)
    TrainingJob.objects.filter(pk=b.pk).update(hyperparameters={"epochs": "10", "lr": "0.001", "momentum": "0.9"})
    response = client.get(URL, {"ids": _ids([a, b])})
    rows = {row.label: row for row in response.context["hyperparameters"]}
    assert list(rows) == ["epochs", "lr", "momentum"]
    assert not rows["epochs"].differs
    assert rows["lr"].differs  # 0.000 vs 0.001
    assert rows["momentum"].differs and rows["momentum"].values == [None, "0.9"]
    html = response.content.decode()
    assert html.count('class="hp differs"') == 2
    assert html.count('<span class="sr-only"> differs</span>') == 2


def test_best_per_row_in_both_directions(client, logged_in):
    a, b, c = _jobs(3)
    for job, loss, acc in ((a, 0.5, 0.7), (b, 0.2, 0.9), (c, 0.3, 0.95)):
        _metric(job, "validation:loss", loss)
        _metric(job, "validation:accuracy", acc)
    response = client.get(URL, {"ids": _ids([a, b, c])})
    rows = {row.label: row for row in response.context["metrics"]}
    assert rows["validation:loss"].best == {1} and rows["validation:loss"].lower_is_better
    assert rows["validation:accuracy"].best == {2} and not rows["validation:accuracy"].lower_is_better
    assert response.content.decode().count('<span class="sr-only"> best</span>') == 2


@pytest.mark.parametrize(
    "ids",
    ["{a}", "{a},{a}", "{a},x", "{a},-3", "{a},1.5", "{a},²", "{a},99999999999999999999999", "{a},987654"],
)
def test_bad_selections_are_a_400_with_a_message(client, logged_in, ids):
    (a,) = _jobs(1)
    response = client.get(URL, {"ids": ids.format(a=a.pk)})
    assert response.status_code == 400
    assert response.context["error"]
    assert b'id="compare-error"' in response.content


def test_more_than_twenty_jobs_is_a_400(client, logged_in):
    jobs = _jobs(21)
    response = client.get(URL, {"ids": _ids(jobs)})
    assert response.status_code == 400
    assert "at most 20" in response.context["error"]


def test_no_selection_says_how_to_make_one(client, logged_in):
    response = client.get(URL)
    assert response.status_code == 200
    assert b'id="compare-empty"' in response.content


def test_timelines_share_one_time_axis(client, logged_in):
    a, b = _jobs(2)  # b created a minute after a
    response = client.get(URL, {"ids": _ids([a, b])})
    html = response.content.decode()
    assert html.count('class="compare-lane"') == 2
    # b's first bar starts a minute into the shared axis, not at its own zero.
    assert 'x="0.0%"' in html and 'x="1.5' in html


def test_curves_of_one_metric_overlay_one_line_per_job(client, logged_in):
    a, b, c = _jobs(3)
    for job in (a, b):
        store_series(job, "train:loss", series_points(job.training_start_time, 30))
    store_series(a, "validation:loss", series_points(a.training_start_time, 30))
    response = client.get(URL, {"ids": _ids([a, b, c])})
    html = response.content.decode()
    assert 'id="compare-curves"' in html
    assert html.count('class="cw-chart"') == 2
    assert html.count("cw-line s") == 3


def test_query_count_does_not_grow_with_the_jobs(client, logged_in, django_assert_num_queries):
    a, b = _jobs(2)
    for job in (a, b):
        _metric(job, "validation:loss", 0.1)
        store_series(job, "train:loss", series_points(job.training_start_time, 20))
    # Session, user, jobs, transitions, metrics, prices, series.
    with django_assert_num_queries(7):
        assert client.get(URL, {"ids": _ids([a, b])}).status_code == 200
    more = [make_job(f"cmp-more-{i:02d}", created=T0 + timedelta(hours=1, minutes=i)) for i in range(18)]
    for job in more:
        _metric(job, "validation:loss", 0.2)
        store_series(job, "train:loss", series_points(job.training_start_time, 20))
    with django_assert_num_queries(7):
        assert client.get(URL, {"ids": _ids([a, b, *more])}).status_code == 200


def test_hostile_text_is_escaped(client, logged_in):
    a, b = _jobs(2)
    TrainingJob.objects.filter(pk=a.pk).update(hyperparameters={XSS: XSS, "lr": XSS})
    _metric(a, XSS, 1.0)
    _metric(b, XSS, 2.0)
    store_series(a, XSS, series_points(a.training_start_time, 10))
    response = client.get(URL, {"ids": _ids([a, b])})
    html = response.content.decode()
    assert XSS not in html
    assert "<script>window.__xss" not in html
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
