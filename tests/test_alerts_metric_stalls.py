"""Metric stall alerts: a running job whose algorithm metrics exist but sent no new point for N minutes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts import decide, domain, limits
from alerts.models import AlertKind, AlertRule
from jobs.cloudwatch_sync import _store_points
from jobs.domain import cloudwatch as cw
from jobs.models import CloudWatchFetch, TrainingJob
from tests.cloudwatch_rows import series_points, store_series
from tests.factories import T0, make_source
from tests.test_alerts import running, send_now, store

pytestmark = pytest.mark.django_db

LAST_POINT = T0 + timedelta(minutes=9)  # ten points a minute apart from T0


@pytest.fixture
def watched(settings, receiver):
    settings.TRAINWATCH_ALERT_URLS = [receiver.url]
    settings.TRAINWATCH_BASE_URL = "https://trainwatch.example"
    return make_source(last_success_at=T0 - timedelta(days=1))


@pytest.fixture
def rule(watched):
    AlertRule.objects.all().delete()
    return AlertRule.objects.create(name="quiet", kind=AlertKind.METRICS_STALLED, created_at=T0 - timedelta(days=1))


def curving(source, name: str, *, metric: str = "train:loss", fetched=LAST_POINT) -> TrainingJob:
    """A running job with one algorithm series ending at LAST_POINT, fetched at ``fetched``."""
    store(source, running(name))
    job = TrainingJob.objects.get(name=name)
    store_series(job, metric, series_points(T0, 10))
    CloudWatchFetch.objects.create(job=job, fetched_at=fetched)
    return job


def fetched(job: TrainingJob, at) -> None:
    CloudWatchFetch.objects.filter(job=job).update(fetched_at=at)


def test_a_job_silent_past_the_rule_alerts_once_then_again_after_a_new_point(rule, watched, receiver):
    job = curving(watched, "quiet-job")
    fetched(job, LAST_POINT + timedelta(minutes=29))
    assert limits.decide_metric_stalls(now=LAST_POINT + timedelta(minutes=29)) == []
    fetched(job, LAST_POINT + timedelta(minutes=30))
    (alert,) = limits.decide_metric_stalls(now=LAST_POINT + timedelta(minutes=31))
    assert alert.event == f"metrics@{LAST_POINT.isoformat()}"
    assert alert.details["series"] == "train:loss"
    fetched(job, LAST_POINT + timedelta(minutes=50))
    assert limits.decide_metric_stalls(now=LAST_POINT + timedelta(minutes=50)) == []  # the same silence
    send_now()
    (post,) = receiver.posts
    assert post.body["title"] == "Training job quiet-job has sent no new metric point"
    assert "no new metric point for 30 min: the newest, of train:loss" in post.body["trainwatch"]["jobs"][0]["note"]

    # A new point through the fetch's own write, then a new silence: a new alert.
    new_point = LAST_POINT + timedelta(minutes=55)
    assert _store_points(job, cw.SeriesKey(job.name, "train:loss"), [(new_point.timestamp(), 1.0)], new_point) == 1
    fetched(job, new_point + timedelta(minutes=10))
    assert limits.decide_metric_stalls(now=new_point + timedelta(minutes=10)) == []
    fetched(job, new_point + timedelta(minutes=30))
    (again,) = limits.decide_metric_stalls(now=new_point + timedelta(minutes=30))
    assert again.event == f"metrics@{new_point.isoformat()}"


def test_a_late_fetch_no_curves_a_finished_job_or_instance_metrics_only_never_alert(rule, watched):
    late = curving(watched, "fetch-is-late", fetched=LAST_POINT + timedelta(minutes=5))
    store(watched, running("no-curves"))
    CloudWatchFetch.objects.create(job=TrainingJob.objects.get(name="no-curves"), fetched_at=T0 + timedelta(hours=2))
    store(watched, running("hosts-only"))
    hosts = TrainingJob.objects.get(name="hosts-only")
    store_series(hosts, "CPUUtilization", series_points(T0, 10), host="hosts-only/algo-1")
    CloudWatchFetch.objects.create(job=hosts, fetched_at=T0 + timedelta(hours=2))
    done = curving(watched, "done", fetched=T0 + timedelta(hours=2))
    TrainingJob.objects.filter(pk=done.pk).update(status="Completed")
    assert limits.decide_metric_stalls(now=T0 + timedelta(hours=2)) == []
    fetched(late, T0 + timedelta(hours=2))  # the fetch caught up and found nothing newer
    assert [a.job_id for a in limits.decide_metric_stalls(now=T0 + timedelta(hours=2))] == [late.pk]


def test_the_newest_series_counts_and_the_silence_is_the_rules(rule, watched):
    job = curving(watched, "two-metrics")
    store_series(job, "val:acc", series_points(T0 + timedelta(minutes=20), 1))  # newer: LAST_POINT + 11 min
    AlertRule.objects.filter(pk=rule.pk).update(metric_stall_minutes=10)
    fetched(job, LAST_POINT + timedelta(minutes=20))
    assert limits.decide_metric_stalls(now=LAST_POINT + timedelta(minutes=20)) == []
    fetched(job, LAST_POINT + timedelta(minutes=21))
    (alert,) = limits.decide_metric_stalls(now=LAST_POINT + timedelta(minutes=21))
    assert alert.details["series"] == "val:acc"


def test_silence_that_began_before_the_rule_is_history(watched):
    AlertRule.objects.all().delete()
    job = curving(watched, "old-silence", fetched=LAST_POINT + timedelta(hours=1))
    AlertRule.objects.create(name="new", kind=AlertKind.METRICS_STALLED, created_at=LAST_POINT + timedelta(minutes=40))
    assert limits.decide_metric_stalls(now=LAST_POINT + timedelta(hours=1)) == []
    assert job.alerts.count() == 0


def test_scope_and_mute_apply(rule, watched):
    curving(watched, "vision-job", fetched=T0 + timedelta(hours=1))
    AlertRule.objects.filter(pk=rule.pk).update(scope_name_pattern="nlp-*")
    assert limits.decide_metric_stalls(now=T0 + timedelta(hours=1)) == []
    AlertRule.objects.filter(pk=rule.pk).update(scope_name_pattern="", muted=True)
    assert limits.decide_metric_stalls(now=T0 + timedelta(hours=1)) == []


def test_hostile_metric_names_arrive_as_text(rule, watched, receiver):
    curving(watched, "hostile", metric="<!channel> [click](https://evil.example)", fetched=T0 + timedelta(hours=1))
    assert len(limits.decide_metric_stalls(now=T0 + timedelta(hours=1))) == 1
    send_now()
    (post,) = receiver.posts
    for text in (post.body["message"], post.body["trainwatch"]["jobs"][0]["note"]):
        assert "<!channel>" not in text and "](" not in text
        assert domain.neutralise("<!channel> [click](https://evil.example)") in text


def test_queries_do_not_grow_with_the_jobs(rule, watched, django_assert_num_queries):
    # Nothing silent: the rules and the running jobs.
    curving(watched, "fresh", fetched=LAST_POINT + timedelta(minutes=1))
    with django_assert_num_queries(2):
        assert limits.decide_metric_stalls(now=LAST_POINT + timedelta(minutes=1)) == []
    decide.ensure_default_channels()  # the first record creates them: not a per-job cost
    counts = []
    for n in (1, 12):
        TrainingJob.objects.all().delete()
        for i in range(n):
            curving(watched, f"silent-{n}-{i}", fetched=T0 + timedelta(hours=1))
        with CaptureQueriesContext(connection) as queries:
            assert len(limits.decide_metric_stalls(now=T0 + timedelta(hours=1))) == n
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    # Decided already: the rules, the running jobs and the alerts decided before.
    with django_assert_num_queries(3):
        assert limits.decide_metric_stalls(now=T0 + timedelta(hours=1)) == []
