"""The CloudWatch panel of the job page: charts from stored series, log tails, honest when empty."""

from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from jobs.models import CloudWatchFetch
from tests.cloudwatch_rows import series_points, store_full_job, store_series, store_tail
from tests.factories import T0, make_job

NOW = T0 + timedelta(hours=3)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_no_data_yet_is_said_honestly(logged_in):
    job = make_job("quiet-1")
    html = logged_in.get(f"/jobs/{job.pk}/").content.decode()
    assert "No CloudWatch data yet: not fetched yet." in html
    CloudWatchFetch.objects.create(job=job, fetched_at=NOW - timedelta(minutes=2))
    html = logged_in.get(f"/jobs/{job.pk}/").content.decode()
    assert "CloudWatch had no metrics or logs for this job at the last fetch" in html


def test_metric_groups_hosts_and_logs_are_drawn(logged_in):
    job = make_job(
        "curves-1", ResourceConfig={"InstanceType": "ml.p3.2xlarge", "InstanceCount": 2, "VolumeSizeInGB": 30}
    )
    start = job.training_start_time
    store_series(job, "train:loss", series_points(start, 120, base=5, slope=-0.01))
    store_series(job, "validation:loss", series_points(start, 120, base=6, slope=-0.01))
    store_series(job, "train:accuracy", series_points(start, 120, base=0.5))
    for n in (1, 2):
        for metric in ("CPUUtilization", "GPUUtilization"):
            store_series(job, metric, series_points(start, 120, base=250), host=f"{job.name}/algo-{n}")
    store_tail(job, "algo-1", ["epoch 1 loss=0.5", "epoch 2 loss=0.4"])
    response = logged_in.get(f"/jobs/{job.pk}/")
    html = response.content.decode()
    charts = re.findall(r'<figure class="cw-chart">.*?</figure>', html, re.S)
    captions = [
        htmllib.unescape(re.sub(r"<[^>]+>", "", re.search(r"<figcaption>(.*?)</figcaption>", c, re.S).group(1)))
        for c in charts
    ]
    assert captions == ["accuracy", "loss", "algo-1 (%)", "algo-2 (%)"]
    loss = charts[1]
    assert loss.count("<polyline") == 2 and "train:loss" in loss and "validation:loss" in loss
    # Utilization above 100 % (GPUs summed) widens the axis instead of being cut off.
    assert re.search(r">300<", charts[2])
    assert "Training" in charts[0]  # the phase shaded behind
    assert "epoch 2 loss=0.4" in html
    assert "full log in CloudWatch" in html and "log-events/curves-1$252Falgo-1-1700000000" in html


def test_log_lines_are_escaped_and_cut(logged_in):
    job = make_job("hostile-1")
    store_tail(job, "algo-1", ["<script>alert(1)</script>", "\x1b[31mred\x1b[0m", "x" * 1_000_000])
    html = logged_in.get(f"/jobs/{job.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\x1b" not in html and ">red<" in html
    assert "x" * 2001 not in html and "x" * 2000 in html
    assert "cut at 2,000 of 1,000,000 characters" in html


@pytest.mark.parametrize("points", [10, 5000])
def test_queries_do_not_grow_with_points(logged_in, django_assert_num_queries, points):
    job = make_job("big-1")
    store_full_job(job, job.training_start_time, points, hosts=2, metrics=2)
    store_tail(job, "algo-1", [f"line {i}" for i in range(50)])
    store_tail(job, "algo-2", [f"line {i}" for i in range(50)])
    # session, user, job + source + CloudWatch state, transitions, metrics, prices, series, log tails, alerts
    with django_assert_num_queries(9):
        response = logged_in.get(f"/jobs/{job.pk}/")
    assert response.content.decode().count("<polyline") == 2 + 2 * 5


def test_admin_lists_series_and_tails_read_only(client, db):
    from django.contrib.auth.models import User

    job = make_job("admin-cw-1")
    store_series(job, "train:loss", series_points(job.training_start_time, 20))
    store_tail(job, "algo-1", ["<b>bold</b>"])
    client.force_login(User.objects.create_superuser("root", "r@example.org", "pw"))
    for path in ("/admin/jobs/metricseries/", "/admin/jobs/logtail/"):
        response = client.get(path)
        assert response.status_code == 200
        assert "admin-cw-1" in response.content.decode()
    assert client.get("/admin/jobs/metricseries/add/").status_code == 403
    tail = job.log_tails.get()
    page = client.get(f"/admin/jobs/logtail/{tail.pk}/change/").content.decode()
    assert "<b>bold</b>" not in page


def test_failed_job_opens_the_host_with_the_error(logged_in):
    job = make_job("failed-cw-1", status="Failed", FailureReason="AlgorithmError: boom")
    store_tail(job, "algo-1", ["epoch 1", "epoch 2"])
    store_tail(job, "algo-2", ["epoch 1", "Traceback (most recent call last):", "RuntimeError: boom"])
    html = logged_in.get(f"/jobs/{job.pk}/").content.decode()
    panels = re.findall(r'<details class="cw-log"( open)?>', html)
    assert panels == ["", " open"]  # algo-2 open, where the error is
    assert '<a href="#log-2-error">the error</a>' in html
    assert re.search(r'<li id="log-2-error" class="err">.*Traceback', html)


def test_last_values_are_shown_to_four_significant_digits(logged_in):
    job = make_job("digits-1")
    start = job.training_start_time
    store_series(
        job, "CPUUtilization", [(start.timestamp(), 10.0), (start.timestamp() + 60, 6388.58)], host=f"{job.name}/algo-1"
    )
    store_series(job, "validation:accuracy", [(start.timestamp(), 0.5), (start.timestamp() + 60, 0.95123)])
    html = logged_in.get(f"/jobs/{job.pk}/").content.decode()
    assert '<span class="muted">6389%</span>' in html
    assert '<span class="muted">0.9512</span>' in html
    assert "6388.5800" not in html


@pytest.mark.parametrize("points", [10, 5000])
def test_the_panel_alone_for_refreshing_in_place(logged_in, django_assert_num_queries, points):
    job = make_job("big-2", status="InProgress")
    store_full_job(job, job.training_start_time, points, hosts=2, metrics=2)
    store_tail(job, "algo-1", [f"line {i}" for i in range(50)])
    # session, user, job + source + CloudWatch state, transitions, series, log tails
    with django_assert_num_queries(6):
        response = logged_in.get(f"/jobs/{job.pk}/cloudwatch/")
    body = response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert body.startswith('<section class="card cloudwatch" id="cloudwatch"') and "<html" not in body
    assert body.count("<polyline") == 2 + 2 * 5
    assert f'data-url="/jobs/{job.pk}/cloudwatch/" data-refresh="30"' in body
    assert 'data-refresh="30"' in logged_in.get(f"/jobs/{job.pk}/").content.decode()


def test_a_terminal_jobs_panel_asks_for_no_refresh(logged_in):
    job = make_job("done-2", status="Failed")
    assert "data-refresh" not in logged_in.get(f"/jobs/{job.pk}/cloudwatch/").content.decode()
    assert "data-refresh" not in logged_in.get(f"/jobs/{job.pk}/").content.decode()
    assert Client().get(f"/jobs/{job.pk}/cloudwatch/").status_code == 302  # signed-out: the login page
