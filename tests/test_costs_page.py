"""The costs page (/costs/) and jobs.cost_report."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs.cost_report import CostQuery, cost_report
from jobs.costs import job_price, price_table
from jobs.domain.periods import spread
from jobs.models import InstancePrice, TrainingJob
from tests.factories import T0, make_job, make_source

# A Friday afternoon (T0 is 2026-11-20 12:00 UTC).
NOW = T0 + timedelta(hours=4)
RANGE = {"from": "2026-11-14", "to": "2026-11-20"}


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def prices(db):
    # $3/h: any whole number of 12 s is a whole number of cents, so sums compare exactly.
    InstancePrice.objects.update_or_create(instance_type="ml.p3.2xlarge", defaults={"hourly_usd": Decimal("3.00")})
    InstancePrice.objects.update_or_create(instance_type="ml.g5.xlarge", defaults={"hourly_usd": Decimal("1.20")})


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"))


def _report(**params):
    query = CostQuery.from_query({**RANGE, **params}, timezone.localdate(NOW))
    return cost_report(query, NOW, price_table())


def _mixed_jobs():
    """Spot and on-demand, running, multi-instance, warm pool, untagged; some across midnight."""
    make_job("today-1", tags={"team": "vision"})  # 2 x 1 h on-demand today
    # Spot, 23:30 to 00:30 over Thursday night; AWS billed 1800 s of the 3600 on each of 2 instances.
    make_job(
        "spot-night",
        created=T0.replace(hour=0) - timedelta(minutes=35),
        EnableManagedSpotTraining=True,
        TrainingTimeInSeconds=3600,
        BillableTimeInSeconds=1800,
        tags={"team": "nlp"},
    )
    # Running on 2 instances since 15:05: 55 minutes so far.
    make_job("live-1", status="InProgress", created=NOW - timedelta(hours=1), tags={"team": "nlp"})
    # Four g5 instances from Tuesday 22:00 for 5 hours, no AWS figure: start to end.
    start = T0.replace(hour=22) - timedelta(days=3)
    make_job(
        "multi-1",
        created=start - timedelta(minutes=5),
        ResourceConfig={"InstanceType": "ml.g5.xlarge", "InstanceCount": 4, "VolumeSizeInGB": 50},
        TrainingEndTime=start + timedelta(hours=5),
        BillableTimeInSeconds=None,
        tags={"team": "vision"},
    )
    # Failed, untagged, with 10 minutes of warm pool kept on each instance.
    make_job(
        "broken-1",
        status="Failed",
        created=T0 - timedelta(days=1),
        WarmPoolStatus={"Status": "Terminated", "ResourceRetainedBillableTimeInSeconds": 600},
        tags={},
    )
    # Ended before the range: in no figure.
    make_job("old-1", created=T0 - timedelta(days=20), tags={"team": "vision"})


def test_total_equals_the_sum_of_the_jobs_own_costs(db, prices):
    _mixed_jobs()
    report = _report(by="day")
    table = price_table()
    jobs = TrainingJob.objects.exclude(name="old-1")
    costs = [job_price(job, table, now=NOW) for job in jobs]
    assert cents(report["total_usd"]) == sum(c.usd for c in costs)
    assert report["total_seconds"] == sum(c.billed.seconds for c in costs)
    assert report["total_jobs"] == 5
    # The days add up to the total; the spot job's 1800 s split 900/900 across midnight.
    assert cents(sum(report["period_totals"])) == cents(report["total_usd"])
    nlp = next(g for g in report["groups"] if g["value"] == "nlp")
    per_day = dict(zip([p.label.isoformat() for p in report["periods"]], nlp["per_period"], strict=True))
    assert cents(per_day["2026-11-19"]) == Decimal("1.50")  # 2 x 900 s at $3/h
    assert cents(per_day["2026-11-20"]) == Decimal("1.50") + Decimal("5.50")  # and 2 x 3300 s running
    # The multi-instance job's 5 h from 22:00 Tuesday: 2 h on Tuesday, 3 h on Wednesday.
    vision = next(g for g in report["groups"] if g["value"] == "vision")
    by_day = dict(zip([p.label.isoformat() for p in report["periods"]], vision["per_period"], strict=True))
    assert cents(by_day["2026-11-17"]) == Decimal("9.60")  # 2 h at 4 x $1.20/h
    assert cents(by_day["2026-11-18"]) == Decimal("14.40")


def test_the_same_total_per_week_and_month(db, prices):
    _mixed_jobs()
    daily = _report(by="day")["total_usd"]
    assert _report(by="week")["total_usd"] == daily
    assert _report(by="month")["total_usd"] == daily
    weeks = _report(by="week")["periods"]
    assert [p.label.isoformat() for p in weeks] == ["2026-11-09", "2026-11-16"]


def test_waste_spot_savings_and_warm_pool(db, prices):
    _mixed_jobs()
    report = _report()
    # broken-1: 2 x (3600 + 600) s at $3/h.
    assert cents(report["waste_usd"]) == Decimal("7.00")
    # spot-night: on-demand 2 x 3600 s, billed 2 x 1800 s.
    assert cents(report["spot_savings_usd"]) == Decimal("3.00")
    assert report["warm_pool_seconds"] == 2 * 600
    assert cents(report["warm_pool_usd"]) == Decimal("1.00")


def test_groups_without_the_tag_and_other_groupings(db, prices):
    _mixed_jobs()
    labels = {g["label"]: g for g in _report()["groups"]}
    assert set(labels) == {"vision", "nlp", "(no team)"}
    assert labels["(no team)"]["link"] is None
    assert labels["nlp"]["jobs"] == 2
    assert sum(g["share"] for g in labels.values()) == pytest.approx(100.0)
    by_type = {g["label"] for g in _report(group="instance_type")["groups"]}
    assert by_type == {"ml.p3.2xlarge", "ml.g5.xlarge"}
    by_status = {g["label"] for g in _report(group="status")["groups"]}
    assert by_status == {"Completed", "InProgress", "Failed"}
    make_job("other-src", source=make_source("second"), tags={"team": "vision"})
    by_source = {g["label"]: g["link"] for g in _report(group="source")["groups"]}
    assert by_source["second"]["source"] == "second"
    assert _report(group="tag:project")["groups"][0]["label"] == "(no project)"


def test_page_links_each_group_into_the_jobs_list_with_the_range(logged_in, prices):
    _mixed_jobs()
    response = logged_in.get("/costs/", RANGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<svg" in html and "<rect" in html
    assert 'href="/?tag=team%3Dvision&amp;created_after=2026-11-14&amp;created_before=2026-11-20"' in html
    url = next(g["url"] for g in response.context["report"]["groups"] if g["value"] == "nlp")
    query = parse_qs(urlparse(url).query)
    listed = logged_in.get(url)
    assert listed.status_code == 200
    assert query["tag"] == ["team=nlp"]
    assert {r.job.name for r in listed.context["rows"]} >= {"live-1", "spot-night"}


def test_page_sorts_the_table(logged_in, prices):
    _mixed_jobs()
    groups = logged_in.get("/costs/", {**RANGE, "sort": "group"}).context["report"]["groups"]
    assert [g["label"] for g in groups] == ["(no team)", "nlp", "vision"]
    groups = logged_in.get("/costs/", {**RANGE, "sort": "-spend"}).context["report"]["groups"]
    spends = [g["usd"] for g in groups]
    assert spends == sorted(spends, reverse=True)
    groups = logged_in.get("/costs/", {**RANGE, "sort": "jobs"}).context["report"]["groups"]
    assert [g["jobs"] for g in groups] == sorted(g["jobs"] for g in groups)


def test_group_names_are_escaped(logged_in, prices):
    make_job("hostile", tags={"team": '<script>alert(1)</script>"'})
    html = logged_in.get("/costs/", RANGE).content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_default_range_is_the_last_30_days_by_day(logged_in, prices):
    report = logged_in.get("/costs/").context["report"]
    assert report["query"].by == "day"
    assert report["query"].group == "tag:team"
    assert len(report["periods"]) == 30
    assert report["periods"][-1].label.isoformat() == "2026-11-20"


@pytest.mark.parametrize(
    "params",
    [
        {"by": "year"},
        {"from": "2026-13-01"},
        {"from": "20261101"},
        {"to": "yesterday"},
        {"from": "2026-11-20", "to": "2026-11-01"},
        {"from": "2020-01-01", "to": "2026-11-20", "by": "day"},
        {"group": "colour"},
        {"group": "tag:"},
        {"sort": "price"},
        {"group": "tag:a\x00b"},
    ],
)
def test_bad_values_are_a_clear_400(logged_in, params):
    response = logged_in.get("/costs/", params)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content


def test_requires_login(client, db):
    response = client.get("/costs/")
    assert response.status_code == 302


@pytest.mark.parametrize("count", [5, 50])
def test_query_count_does_not_grow_with_jobs(logged_in, prices, count):
    for i in range(count):
        status = ("InProgress", "Completed", "Failed", "Stopped")[i % 4]
        make_job(
            f"q-{i}",
            status=status,
            created=NOW - timedelta(days=i % 9, hours=i % 5 + 1),
            EnableManagedSpotTraining=i % 3 == 0,
            tags={"team": f"team-{i % 7}"},
        )
    with CaptureQueriesContext(connection) as queries:
        assert logged_in.get("/costs/").status_code == 200
    # session, user, prices, the spend union, the budgets (none, so no month query)
    assert len(queries) == 5, [q["sql"][:80] for q in queries]


def test_days_follow_the_pure_spreading_rule(db, prices):
    # AWS billed 1777 s of a 2 d 7 h span starting 21:13:07 Monday: each day its share, to the second.
    created = T0.replace(hour=21, minute=8, second=7) - timedelta(days=4)
    start = created + timedelta(minutes=5)
    end = start + timedelta(days=2, hours=7)
    make_job(
        "odd-1",
        created=created,
        TrainingEndTime=end,
        EnableManagedSpotTraining=True,
        TrainingTimeInSeconds=int((end - start).total_seconds()),
        BillableTimeInSeconds=1777,
        ResourceConfig={"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
    )
    report = _report(by="day")
    moments = [timezone.make_aware(datetime.combine(p.first, time.min)).timestamp() for p in report["periods"]]
    moments.append(moments[-1] + 86400)
    expected = spread(1777, start.timestamp(), end.timestamp(), moments)
    (group,) = report["groups"]
    assert [round(usd / Decimal(3) * 3600) for usd in group["per_period"]] == expected
    assert sum(expected) == 1777 and sum(1 for s in expected if s) == 4  # Monday to Thursday


def test_days_are_local_days(db, prices, settings):
    settings.TIME_ZONE = "America/New_York"
    # Trained 03:35-04:35 UTC on the 20th: 22:35-23:35 on the 19th in New York.
    make_job("late-1", created=T0.replace(hour=3, minute=30))
    timezone.deactivate()
    report = _report(by="day")
    (group,) = report["groups"]
    per_day = dict(zip([p.label.isoformat() for p in report["periods"]], group["per_period"], strict=True))
    assert cents(per_day["2026-11-19"]) == Decimal("6.00")
    assert per_day["2026-11-20"] == 0
    assert report["since"].utcoffset() == timedelta(hours=-5)


def test_an_empty_tag_value_is_a_group_of_its_own(db, prices):
    make_job("blank-1", tags={"team": ""})
    make_job("none-1", tags={"owner": "x"})
    labels = {g["label"]: g["link"] for g in _report()["groups"]}
    assert set(labels) == {"(empty team)", "(no team)"}
    assert labels["(empty team)"]["tag"] == "team="
