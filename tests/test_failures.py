"""The failures page (/failures/): failed jobs grouped by signature."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from tests.factories import T0, XSS, make_job

NOW = T0 + timedelta(days=3)
OOM = "AlgorithmError: CUDA out of memory. Tried to allocate {n}.00 GiB"
S3 = "ClientError: Data download failed: s3://bucket/{n}/train is missing"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _fail(name: str, reason: str, created) -> None:
    make_job(name, status="Failed", FailureReason=reason, created=created)


def test_requires_login(client, db):
    assert client.get("/failures/").status_code == 302


def test_groups_by_signature_newest_first(logged_in):
    _fail("oom-1", OOM.format(n=2), T0 - timedelta(days=5))
    _fail("oom-2", OOM.format(n=4), T0)
    _fail("oom-3", OOM.format(n=8), T0 + timedelta(days=1))
    _fail("s3-1", S3.format(n="a"), NOW - timedelta(hours=2))
    make_job("fine-1")
    response = logged_in.get("/failures/")
    groups = response.context["groups"]
    assert [g.count for g in groups] == [1, 3]
    s3, oom = groups
    assert s3.is_new and not oom.is_new
    assert [j.name for j in oom.examples] == ["oom-3", "oom-2", "oom-1"]
    assert oom.first_seen == T0 - timedelta(days=5)
    assert oom.last_seen == T0 + timedelta(days=1)
    # Trend: 14 days ending today; the 5-day-old failure is inside, none outside.
    assert len(oom.trend) == 14
    assert sum(d.count for d in oom.trend) == 3
    html = response.content.decode()
    assert 'class="chip new"' in html
    assert "oom-3" in html and "Tried to allocate 8.00 GiB" in html


def test_trend_counts_per_day(logged_in):
    for i in range(3):
        _fail(f"a-{i}", OOM.format(n=i), NOW - timedelta(minutes=10 + i))
    _fail("old-1", OOM.format(n=9), NOW - timedelta(days=20))
    (group,) = logged_in.get("/failures/").context["groups"]
    assert group.count == 4
    assert group.trend[-1].count == 3
    assert group.trend[-1].height == 100.0
    assert sum(d.count for d in group.trend) == 3


def test_trend_of_a_quiet_group_is_empty(logged_in):
    _fail("old-1", OOM.format(n=1), NOW - timedelta(days=20))
    _fail("s3-1", S3.format(n="a"), NOW - timedelta(hours=1))
    quiet = logged_in.get("/failures/").context["groups"][1]
    assert quiet.count == 1
    assert [d.count for d in quiet.trend] == [0] * 14
    assert {d.height for d in quiet.trend} == {0.0}


def test_examples_capped_per_group(logged_in):
    for i in range(6):
        _fail(f"oom-{i}", OOM.format(n=i), T0 + timedelta(minutes=i))
    (group,) = logged_in.get("/failures/").context["groups"]
    assert group.count == 6
    assert [j.name for j in group.examples] == ["oom-5", "oom-4", "oom-3"]


def test_empty_state(logged_in):
    make_job("fine-1")
    assert "No failed jobs" in logged_in.get("/failures/").content.decode()


def test_untrusted_reason_is_escaped(logged_in):
    _fail("xss-1", f"Error:\n{XSS}", T0)
    html = logged_in.get("/failures/").content.decode()
    assert "<script>window.__xss" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize("count", [3, 30])
def test_constant_queries(logged_in, django_assert_num_queries, count):
    for i in range(count):
        # Ten distinct causes at most, several jobs each.
        _fail(f"f-{i}", f"Error kind {'abcdefghij'[i % 10]}: broke", T0 + timedelta(hours=i))
    # session, user, newest change, groups, examples, trends
    with django_assert_num_queries(6):
        response = logged_in.get("/failures/")
    assert sum(g.count for g in response.context["groups"]) == count
    # Then from the cache (jobs.figures_cache): session, user, newest change.
    with django_assert_num_queries(3):
        again = logged_in.get("/failures/")
    assert sum(g.count for g in again.context["groups"]) == count
