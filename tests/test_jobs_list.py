"""The jobs list (/) and its running-rows fragment endpoint."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from jobs.models import InstancePrice, TrainingJob
from tests.cloudwatch_rows import series_points, store_series
from tests.factories import SHORT_XSS, T0, XSS, make_job, make_source

NOW = T0 + timedelta(hours=3)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _names(response) -> list[str]:
    return [row.job.name for row in response.context["rows"]]


def test_requires_login(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_lists_jobs_with_badges_and_cost(logged_in):
    InstancePrice.objects.update_or_create(instance_type="ml.p3.2xlarge", defaults={"hourly_usd": Decimal("3.825")})
    make_job("done-1")
    make_job("broken-1", status="Failed", created=T0 + timedelta(minutes=1))
    make_job("live-1", status="InProgress", created=T0 + timedelta(minutes=2))
    response = logged_in.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert _names(response) == ["live-1", "broken-1", "done-1"]
    assert 'class="badge completed"' in html
    assert 'class="badge failed"' in html
    assert 'class="badge running"' in html
    # One hour on two instances at $3.825 per instance-hour.
    done = next(r for r in response.context["rows"] if r.job.name == "done-1")
    assert done.cost == Decimal("7.65")
    assert "$7.65" in html
    assert "ml.p3.2xlarge" in html


def test_cost_says_which_figure_it_is_priced_from(logged_in):
    InstancePrice.objects.update_or_create(instance_type="ml.p3.2xlarge", defaults={"hourly_usd": Decimal("3.825")})
    # An hour with 68 % spot savings: AWS billed 1152 s on each of two instances.
    make_job("spot-1", EnableManagedSpotTraining=True, TrainingTimeInSeconds=3600, BillableTimeInSeconds=1152)
    make_job("live-1", status="InProgress", created=T0 + timedelta(minutes=2))
    response = logged_in.get("/")
    rows = {r.job.name: r for r in response.context["rows"]}
    assert rows["spot-1"].cost == Decimal("2.45") and rows["spot-1"].cost_basis == "aws"
    assert rows["live-1"].cost_basis == "running so far"
    html = response.content.decode()
    # Escaped by the row partial (Jinja2 writes the apostrophe as &#39;, Django as &#x27;).
    assert '$2.45 <abbr class="basis muted" title="AWS&#39;s BillableTimeInSeconds' in html
    assert '">so far</abbr>' in html


def test_unknown_status_gets_neutral_badge(logged_in):
    make_job("odd-1", status="Archived")
    html = logged_in.get("/").content.decode()
    assert 'class="badge unknown"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=Failed", ["broken-1"]),
        ("q=live", ["live-1"]),
        ("instance_type=ml.g5.xlarge", ["live-1"]),
        ("source=other", ["broken-1"]),
        ("tag=team%3Dnlp", ["broken-1"]),
        ("tag=team", ["live-1", "broken-1", "done-1"]),
        ("created_after=2026-11-21", ["live-1"]),
        ("created_before=2026-11-20", ["broken-1", "done-1"]),
        ("sort=name", ["broken-1", "done-1", "live-1"]),
    ],
)
def test_filters_narrow_the_list(logged_in, query, expected):
    make_job("done-1")
    make_job("broken-1", status="Failed", source=make_source("other"), tags={"team": "nlp"})
    make_job(
        "live-1",
        status="InProgress",
        created=T0 + timedelta(days=1),
        ResourceConfig={"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
    )
    response = logged_in.get(f"/?{query}")
    assert _names(response) == expected


def test_tuning_job_filter(logged_in):
    arn = "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/hpo-1"
    make_job("trial-1", TuningJobArn=arn)
    make_job("solo-1")
    response = logged_in.get("/", {"tuning_job": arn})
    assert _names(response) == ["trial-1"]


def test_metric_column_and_sort(logged_in):
    for i, accuracy in enumerate([0.5, 0.9, 0.7]):
        make_job(
            f"m-{i}",
            created=T0 + timedelta(minutes=i),
            FinalMetricDataList=[{"MetricName": "validation:accuracy", "Value": accuracy, "Timestamp": T0}],
        )
    response = logged_in.get("/", {"metric": "validation:accuracy", "sort": "-metric"})
    assert _names(response) == ["m-1", "m-2", "m-0"]
    assert [r.metric_value for r in response.context["rows"]] == [0.9, 0.7, 0.5]
    html = response.content.decode()
    assert '<option value="validation:accuracy" selected>' in html
    assert "0.9" in html
    ascending = logged_in.get("/", {"metric": "validation:accuracy", "sort": "metric"})
    assert _names(ascending) == ["m-0", "m-2", "m-1"]


def test_a_running_job_without_a_final_metric_shows_its_curves_last_value(logged_in):
    done = make_job("done-1", FinalMetricDataList=[{"MetricName": "validation:loss", "Value": 0.25, "Timestamp": T0}])
    live = make_job("live-1", status="InProgress", created=T0 + timedelta(minutes=1))
    quiet = make_job("live-2", status="InProgress", created=T0 + timedelta(minutes=2))  # no curve yet
    store_series(live, "validation:loss", series_points(T0, 30, base=0.75, slope=-0.01))
    store_series(live, "validation:loss", series_points(T0, 30, base=99.0), host="live-1/algo-1")  # not this one
    store_series(done, "validation:loss", series_points(T0, 30, base=5.0))  # a final metric wins
    store_series(quiet, "train:loss", series_points(T0, 30))  # another metric
    response = logged_in.get("/", {"metric": "validation:loss", "sort": "created"})
    rows = {r.job.name: r for r in response.context["rows"]}
    assert (rows["done-1"].metric_value, rows["done-1"].metric_is_last) == (0.25, False)
    expected = live.series.get(host="").last_value
    assert (rows["live-1"].metric_value, rows["live-1"].metric_is_last) == (expected, True)
    assert (rows["live-2"].metric_value, rows["live-2"].metric_is_last) == (None, False)
    html = response.content.decode()
    assert 'title="Newest CloudWatch point; no final metric yet"' in html
    # The sort still ranks final metrics only: the running job is not placed by its curve.
    assert _names(logged_in.get("/", {"metric": "validation:loss", "sort": "metric"}))[0] == "done-1"


def test_sort_header_links_keep_the_filters(logged_in):
    make_job("done-1")
    html = logged_in.get("/", {"status": "Completed", "sort": "name"}).content.decode()
    # The active column links to the reverse order, with the filter kept.
    assert 'href="?status=Completed&amp;sort=-name"' in html
    assert 'aria-sort="ascending"' in html


def test_pagination_fetches_one_extra_row(logged_in, settings, monkeypatch):
    from jobs.views import jobs_list

    monkeypatch.setattr(jobs_list, "PAGE_SIZE", 2)
    for i in range(5):
        make_job(f"p-{i}", created=T0 + timedelta(minutes=i))
    first = logged_in.get("/", {"status": "Completed"})
    assert _names(first) == ["p-4", "p-3"]
    assert first.context["has_next"] is True
    assert first.context["matched"] == 5
    assert 'href="?status=Completed&amp;page=2"' in first.content.decode()
    last = logged_in.get("/", {"status": "Completed", "page": "3"})
    assert _names(last) == ["p-0"]
    assert last.context["has_next"] is False
    assert logged_in.get("/", {"page": "nonsense"}).context["page"] == 1


def test_match_count_is_capped(logged_in, monkeypatch):
    from jobs import paging

    monkeypatch.setattr(paging, "COUNT_CAP", 2)
    for i in range(4):
        make_job(f"c-{i}")
    response = logged_in.get("/")
    assert response.context["matched"] == 2
    assert response.context["matched_capped"] is True
    assert "of 2+" in response.content.decode()


def test_untrusted_text_is_escaped(logged_in):
    make_job(
        "xss-1",
        tags={XSS: XSS},
        FinalMetricDataList=[{"MetricName": XSS, "Value": 1.0, "Timestamp": T0}],
        SecondaryStatus=SHORT_XSS,
    )
    html = logged_in.get("/", {"metric": XSS}).content.decode()
    assert "<script>window.__xss" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html


def _read_every_billing_column() -> None:
    """Give the jobs what makes a row read every column it can (LIST_FIELDS): a column left out costs a query a row."""
    finished = TrainingJob.objects.filter(status="Completed")
    finished.update(reported_billable_seconds=600, warm_pool_retained_seconds=60, described_at=T0)
    TrainingJob.objects.filter(pk=finished.first().pk).update(gone_at=T0)


@pytest.mark.parametrize("count", [3, 30])
def test_constant_queries(logged_in, django_assert_num_queries, count):
    InstancePrice.objects.update_or_create(instance_type="ml.p3.2xlarge", defaults={"hourly_usd": Decimal("3.825")})
    for i in range(count):
        make_job(f"q-{i}", status="InProgress" if i % 3 else "Completed", tags={"team": "vision", "run": str(i)})
    _read_every_billing_column()
    # session, user, page of jobs, capped count, prices, metric values, running
    # jobs' last values (they have no final one), instance types, sources, metric names
    with django_assert_num_queries(10):
        response = logged_in.get("/", {"metric": "train:loss", "tag": "team=vision"})
    assert len(response.context["rows"]) == count


@pytest.mark.parametrize("count", [3, 30])
def test_running_rows_constant_queries(logged_in, django_assert_num_queries, count):
    ids = [make_job(f"r-{i}", status="InProgress" if i % 3 else "Completed").pk for i in range(count)]
    _read_every_billing_column()
    # session, user, jobs, prices, metric values, running jobs' last values
    with django_assert_num_queries(6):
        response = logged_in.get("/jobs/rows/", {"ids": ",".join(map(str, ids)), "metric": "train:loss"})
    assert len(response.json()["rows"]) == count


def test_running_rows_returns_fresh_html(logged_in):
    job = make_job("live-1", status="InProgress")
    done = make_job("done-1")
    response = logged_in.get("/jobs/rows/", {"ids": f"{job.pk},{done.pk},abc,,999999"})
    data = response.json()
    rows = {row["id"]: row for row in data["rows"]}
    assert set(rows) == {job.pk, done.pk}
    assert rows[job.pk]["running"] is True
    assert rows[done.pk]["running"] is False
    assert f'id="job-{job.pk}"' in rows[job.pk]["html"]
    assert "data-running" in rows[job.pk]["html"]
    assert "data-running" not in rows[done.pk]["html"]
    assert data["running"] == 1
    TrainingJob.objects.filter(pk=job.pk).update(secondary_status="Uploading")
    assert "Uploading" in logged_in.get("/jobs/rows/", {"ids": str(job.pk)}).json()["rows"][0]["html"]


def test_running_rows_requires_login(client, db):
    assert client.get("/jobs/rows/?ids=1").status_code == 302


def test_metric_sort_counts_only_jobs_with_the_metric(logged_in):
    for i in range(3):
        make_job(f"m-{i}", FinalMetricDataList=[{"MetricName": "validation:accuracy", "Value": 0.5, "Timestamp": T0}])
    make_job("other-1", FinalMetricDataList=[{"MetricName": "train:loss", "Value": 0.1, "Timestamp": T0}])
    make_job("none-1", status="Failed")
    response = logged_in.get("/", {"metric": "validation:accuracy", "sort": "-metric"})
    assert response.context["matched"] == 3
    filtered = logged_in.get("/", {"metric": "validation:accuracy", "sort": "-metric", "q": "m-1"})
    assert _names(filtered) == ["m-1"]
    assert filtered.context["matched"] == 1
    unsorted = logged_in.get("/", {"metric": "validation:accuracy"})
    assert unsorted.context["matched"] == 5


def test_tag_filter_counts_on_the_tag_rows(logged_in):
    make_job("nlp-1", tags={"team": "nlp"})
    make_job("nlp-2", status="Failed", tags={"team": "nlp", "owner": "ana"})
    make_job("vision-1", tags={"team": "vision"})
    make_job("untagged-1", tags={})
    assert logged_in.get("/", {"tag": "team=nlp"}).context["matched"] == 2
    assert logged_in.get("/", {"tag": "team"}).context["matched"] == 3
    assert logged_in.get("/", {"tag": "owner", "sort": "name"}).context["matched"] == 1
    assert logged_in.get("/", {"tag": "team=nlp", "status": "Failed"}).context["matched"] == 1
    assert logged_in.get("/", {"tag": "team=nlp", "metric": "train:loss"}).context["matched"] == 2


@pytest.mark.parametrize("count", [3, 30])
def test_tag_and_status_constant_queries(logged_in, django_assert_num_queries, count):
    for i in range(count):
        make_job(f"t-{i}", status="Failed" if i % 2 else "Completed", tags={"team": "vision", "run": str(i)})
    # session, user, page of jobs, capped count, prices, instance types, sources, metric names
    with django_assert_num_queries(8):
        response = logged_in.get("/", {"tag": "team=vision", "status": "Failed"})
    assert response.context["matched"] == count // 2


def test_each_row_has_a_compare_checkbox_and_the_selection_is_kept(logged_in):
    a = make_job("pick-a")
    b = make_job("pick-b", created=T0 + timedelta(minutes=1))
    c = make_job("pick-c", created=T0 + timedelta(minutes=2))
    html = logged_in.get("/", {"compare": f"{a.pk},{c.pk},999999,x"}).content.decode()
    for job in (a, b, c):
        assert f'name="ids" value="{job.pk}" form="compare-form"' in html
    assert html.count('class="pick-job"') == 3
    assert html.count(" checked>") == 2  # a and c: the ids on this page that were asked
    assert 'action="/compare/"' in html
    assert "Compare selected (2)" in html  # 999999 is no job: left out of the selection


def test_ticked_jobs_on_other_pages_are_sent_with_the_compare_form(logged_in):
    a = make_job("pick-a")
    b = make_job("pick-b", created=T0 + timedelta(minutes=1))
    response = logged_in.get("/", {"compare": f"{a.pk},{b.pk}", "status": "Failed"})
    assert response.context["selected_elsewhere"] == [a.pk, b.pk]
    html = response.content.decode()
    assert f'<input type="hidden" name="ids" value="{a.pk}">' in html


def test_refreshed_rows_carry_the_checkbox(logged_in):
    job = make_job("live-1", status="InProgress")
    html = logged_in.get("/jobs/rows/", {"ids": str(job.pk)}).json()["rows"][0]["html"]
    assert f'class="pick-job" name="ids" value="{job.pk}"' in html
    assert "checked" not in html  # the page keeps its own ticks (static/js/jobs_list.js)
