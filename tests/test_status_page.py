"""The team status page (/status/), its fragment and jobs.status.status_figures."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from jobs.models import InstancePrice, Source
from jobs.status import status_figures
from tests.factories import T0, make_job, make_source

# A Friday afternoon; the week began Monday 2026-11-16.
NOW = T0 + timedelta(hours=4)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def price(db):
    InstancePrice.objects.update_or_create(instance_type="ml.p3.2xlarge", defaults={"hourly_usd": Decimal("3.00")})


def test_requires_login_unless_public(client, db, settings):
    settings.TRAINWATCH_STATUS_PUBLIC = False
    assert client.get("/status/").status_code == 302
    assert client.get("/status/fragment/").status_code == 302
    settings.TRAINWATCH_STATUS_PUBLIC = True
    assert client.get("/status/").status_code == 200
    assert client.get("/status/fragment/").status_code == 200


def test_public_page_hides_sensitive_fields(client, db, settings):
    settings.TRAINWATCH_STATUS_PUBLIC = True
    make_source("default", last_error="AccessDenied for arn:aws:iam::123456789012:role/Secret")
    make_job("live-1", status="InProgress", created=NOW - timedelta(hours=1), tags={"secret": "tag-value"})
    html = client.get("/status/").content.decode()
    assert "live-1" in html
    assert "arn:aws" not in html
    assert "tag-value" not in html
    assert "SageMakerRole" not in html
    assert "/jobs/" not in html  # no links into the login-only pages
    figures = status_figures(NOW, public=True)
    assert "arn" not in figures["running"][0]
    assert "last_error" not in figures["sources"][0]


def test_running_jobs_and_runtime_share(db):
    make_job(
        "live-1",
        status="InProgress",
        created=NOW - timedelta(hours=2, minutes=5),
        StoppingCondition={"MaxRuntimeInSeconds": 4 * 3600},
    )
    make_job("done-1")
    (running,) = status_figures(NOW)["running"]
    assert running["name"] == "live-1"
    assert running["elapsed_seconds"] == 2 * 3600 + 300
    assert running["training_seconds"] == 2 * 3600
    assert running["runtime_used_percent"] == 50.0
    assert running["arn"].endswith("training-job/live-1")


def test_last_24h_counts(db):
    make_job("old-1", created=NOW - timedelta(days=3))  # ended long ago
    make_job("done-1", created=NOW - timedelta(hours=3))
    make_job("broken-1", status="Failed", created=NOW - timedelta(hours=2))
    make_job(
        "halted-1", status="Stopped", created=NOW - timedelta(hours=24, minutes=30)
    )  # started before, ended within
    make_job("live-1", status="InProgress", created=NOW - timedelta(minutes=30))
    figures = status_figures(NOW)
    assert figures["last_24h"] == {"started": 3, "completed": 1, "failed": 1, "stopped": 1}
    assert [r["name"] for r in figures["recent"]] == ["broken-1", "done-1", "halted-1"]


def test_spend_today_and_week(db, price):
    # Two instances, trained 12:05-13:05 today: 2 instance-hours at $3.
    make_job("today-1")
    # Trained on Tuesday: counts for the week only.
    make_job("tuesday-1", created=T0 - timedelta(days=3))
    # Trained last week: counts for neither.
    make_job("lastweek-1", created=T0 - timedelta(days=8))
    # Running since 15:05 on two instances of an unpriced type: 55 min so far.
    make_job(
        "live-1",
        status="InProgress",
        created=NOW - timedelta(hours=1),
        ResourceConfig={"InstanceType": "ml.unpriced", "InstanceCount": 2},
    )
    spend = status_figures(NOW)["spend"]
    assert spend["today"]["billable_seconds"] == 2 * 3600 + 2 * 55 * 60
    assert spend["today"]["estimated_usd"] == 6.0
    assert spend["today"]["unpriced_seconds"] == 2 * 55 * 60
    assert spend["week"]["billable_seconds"] == 4 * 3600 + 2 * 55 * 60
    assert spend["week"]["estimated_usd"] == 12.0
    assert spend["week"]["since"].weekday() == 0


def test_spend_prices_a_spot_job_from_aws_billable_time(db, price):
    # 2 x 1 h of training today with 68 % spot savings: AWS bills 1152 s each.
    make_job("spot-1", EnableManagedSpotTraining=True, TrainingTimeInSeconds=3600, BillableTimeInSeconds=1152)
    # Warm pool kept 10 min after the end on each instance: billed too.
    make_job(
        "pool-1",
        created=T0 - timedelta(days=1),
        WarmPoolStatus={"Status": "Terminated", "ResourceRetainedBillableTimeInSeconds": 600},
    )
    # Running since 15:05: start to now, 55 min on each instance.
    make_job("live-1", status="InProgress", created=NOW - timedelta(hours=1))
    spend = status_figures(NOW)["spend"]
    assert spend["today"]["billable_seconds"] == 2 * 1152 + 2 * 55 * 60
    assert spend["today"]["by_basis"] == {
        "aws": 2 * 1152,
        "start-to-end": 0,
        "running so far": 2 * 55 * 60,
        "until last seen": 0,
    }
    # (1152 + 3300) s x 2 at $3/h, where start to end would have said $11.50.
    assert spend["today"]["estimated_usd"] == 7.42
    week = spend["week"]
    assert week["billable_seconds"] == 2 * 1152 + 2 * (3600 + 600) + 2 * 55 * 60
    assert week["by_basis"]["aws"] == 2 * 1152 + 2 * (3600 + 600)
    assert week["estimated_usd"] == round((2 * 1152 + 2 * 4200 + 2 * 3300) / 3600 * 3, 2)


def test_spend_spreads_aws_figure_over_a_job_that_began_before_the_window(db, price):
    # Trained 23:30 yesterday to 00:30 today (two instances); AWS billed 1800 s each.
    make_job(
        "midnight-1",
        created=T0.replace(hour=0) - timedelta(minutes=35),
        EnableManagedSpotTraining=True,
        TrainingTimeInSeconds=3600,
        BillableTimeInSeconds=1800,
    )
    spend = status_figures(NOW)["spend"]
    # Half of the span fell today: half of what AWS billed.
    assert spend["today"]["billable_seconds"] == 2 * 900
    assert spend["week"]["billable_seconds"] == 2 * 1800


def test_spend_without_aws_figure_is_start_to_end(db, price):
    make_job("today-1", BillableTimeInSeconds=None)
    spend = status_figures(NOW)["spend"]
    assert spend["today"]["by_basis"] == {
        "aws": 0,
        "start-to-end": 2 * 3600,
        "running so far": 0,
        "until last seen": 0,
    }
    assert spend["today"]["estimated_usd"] == 6.0


def test_source_freshness(db, settings):
    settings.TRAINWATCH_SYNC_INTERVAL = 60
    make_source("fresh", last_success_at=NOW - timedelta(seconds=14))
    make_source("late", last_success_at=NOW - timedelta(minutes=5))
    make_source("broken", last_success_at=NOW - timedelta(seconds=10), last_error="ThrottlingException")
    make_source("new")
    states = {s["name"]: s for s in status_figures(NOW)["sources"]}
    assert states["fresh"]["state"] == "ok"
    assert states["fresh"]["seconds_since_success"] == 14
    assert states["late"]["state"] == "late"
    assert states["broken"]["state"] == "error"
    assert states["broken"]["last_error"] == "ThrottlingException"
    assert states["new"]["state"] == "never"


def test_sources_say_push_or_polling_and_the_age_of_their_last_event(logged_in, settings):
    settings.TRAINWATCH_PUSH_WINDOW_SECONDS = 900
    make_source("pushed", last_success_at=NOW, last_event_at=NOW - timedelta(seconds=42))
    make_source("quiet", last_success_at=NOW, last_event_at=NOW - timedelta(hours=2))
    make_source("polled", last_success_at=NOW)
    states = {s["name"]: s for s in status_figures(NOW)["sources"]}
    assert [(states[n]["mode"], states[n]["seconds_since_event"]) for n in ("pushed", "quiet", "polled")] == [
        ("push", 42),
        ("polling", 7200),
        ("polling", None),
    ]
    html = logged_in.get("/status/").content.decode()
    pushed = html.split('id="source-pushed"')[1].split("</li>")[0]
    assert 'sync-mode push"' in pushed and ">push</span>" in pushed and "last event 42 s ago" in pushed
    polled = html.split('id="source-polled"')[1].split("</li>")[0]
    assert 'sync-mode polling"' in polled and ">polling</span>" in polled and "last event" not in polled
    api = {s["name"]: s for s in logged_in.get("/api/status/").json()["sources"]}
    assert api["pushed"]["mode"] == "push" and api["quiet"]["mode"] == "polling"


def test_page_shows_figures(logged_in, settings):
    settings.TRAINWATCH_SYNC_INTERVAL = 60
    make_source("default", last_success_at=NOW - timedelta(seconds=14))
    make_job("live-1", status="InProgress", created=NOW - timedelta(hours=1))
    html = logged_in.get("/status/").content.decode()
    assert "synced 14 s ago" in html
    assert "live-1" in html
    assert 'data-url="/status/fragment/"' in html
    Source.objects.filter(name="default").update(last_error="<b>boom</b>")
    fragment = logged_in.get("/status/fragment/").json()
    assert "&lt;b&gt;boom&lt;/b&gt;" in fragment["html"]
    assert "<b>boom</b>" not in fragment["html"]


def test_refresh_interval_from_query(logged_in):
    assert logged_in.get("/status/", {"every": "3"}).context["refresh_seconds"] == 3
    assert logged_in.get("/status/", {"every": "0"}).context["refresh_seconds"] == 1
    assert logged_in.get("/status/", {"every": "x"}).context["refresh_seconds"] == 15


@pytest.mark.parametrize("count", [3, 30])
def test_constant_queries(logged_in, django_assert_num_queries, price, count):
    for i in range(count):
        status = ("InProgress", "Completed", "Failed")[i % 3]
        make_job(f"s-{i}", status=status, created=NOW - timedelta(hours=i % 20, minutes=10))
        make_source(f"src-{i}")
    # session, user, running, recent, newest change, 24 h counts, prices, spend, budgets, sources
    with django_assert_num_queries(10):
        logged_in.get("/status/")
    # The totals from the cache: the same bucket, no job changed since.
    with django_assert_num_queries(6):
        logged_in.get("/status/fragment/")


def test_spend_tiles_say_which_figures_they_add_up(logged_in, price):
    make_job("spot-1", EnableManagedSpotTraining=True, TrainingTimeInSeconds=3600, BillableTimeInSeconds=1800)
    html = logged_in.get("/status/").content.decode()
    assert "Billed instance-hours: 1.0 h from AWS&#x27;s billable time, 0.0 h start to end" in html
    # Every basis the totals add up is named, gone jobs' time included.
    assert "0.0 h until last seen (gone at the source)" in html
