"""Stall alerts: a running job in one phase past the p95 of that phase for its instance type, once per phase entry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts import limits
from alerts.models import AlertKind, AlertRule
from jobs.models import Source, TrainingJob
from tests.factories import T0, describe_response, make_source
from tests.test_alerts import send_now, store

pytestmark = pytest.mark.django_db

DOWNLOAD_START = T0 + timedelta(minutes=5)


@pytest.fixture
def watched(settings, receiver):
    """A source that has synced before, alerts going to ``receiver``."""
    settings.TRAINWATCH_ALERT_URLS = [receiver.url]
    settings.TRAINWATCH_BASE_URL = "https://trainwatch.example"
    return make_source(last_success_at=T0 - timedelta(days=1))


@pytest.fixture
def stall_rule(watched):
    AlertRule.objects.all().delete()
    return AlertRule.objects.create(name="stalls", kind=AlertKind.STALLED, created_at=T0 - timedelta(days=1))


def finished(name: str, *, downloading_minutes: float, day: int, instance_type: str = "ml.p3.2xlarge") -> dict:
    """A completed job of ``day`` days before T0 that spent that long in Downloading, then trained an hour."""
    created = T0 - timedelta(days=day)
    downloaded = created + timedelta(minutes=1 + downloading_minutes)
    end = downloaded + timedelta(hours=1)
    return describe_response(
        name,
        created=created,
        ResourceConfig={"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 50},
        TrainingStartTime=created + timedelta(minutes=1),
        TrainingEndTime=end,
        LastModifiedTime=end,
        SecondaryStatusTransitions=[
            {"Status": "Starting", "StartTime": created, "EndTime": created + timedelta(minutes=1)},
            {"Status": "Downloading", "StartTime": created + timedelta(minutes=1), "EndTime": downloaded},
            {"Status": "Training", "StartTime": downloaded, "EndTime": end},
            {"Status": "Completed", "StartTime": end, "EndTime": end},
        ],
    )


def downloading(name: str, *, instance_type: str = "ml.p3.2xlarge", start=DOWNLOAD_START) -> dict:
    """A job running since T0, in Downloading since ``start``."""
    return describe_response(
        name,
        status="InProgress",
        SecondaryStatus="Downloading",
        ResourceConfig={"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 50},
        LastModifiedTime=start,
        SecondaryStatusTransitions=[
            {"Status": "Starting", "StartTime": T0, "EndTime": start},
            {"Status": "Downloading", "StartTime": start},
        ],
    )


def history(source: Source, minutes: list[float], **kwargs) -> None:
    store(
        source, *[finished(f"past-{i}", downloading_minutes=m, day=1 + i % 20, **kwargs) for i, m in enumerate(minutes)]
    )


def decide(minutes_in_phase: float, start=DOWNLOAD_START):
    return limits.decide_stalls(now=start + timedelta(minutes=minutes_in_phase))


def test_a_job_past_the_p95_of_its_phase_alerts_once_and_not_while_within_it(stall_rule, watched, receiver):
    history(watched, [1 + i for i in range(25)])  # Downloading 1..25 min: p95 is the 24th, in the 25-min bucket
    store(watched, downloading("stuck"))
    assert decide(11) == []  # past the floor, within the p95
    assert decide(24.9) == []
    (alert,) = decide(25)
    assert (alert.job.name, alert.secondary_status) == ("stuck", "Downloading")
    assert alert.event == f"stall:Downloading@{DOWNLOAD_START.isoformat()}"
    assert alert.details["basis"] == "p95 of 25 phases" and alert.details["threshold_seconds"] == 25 * 60
    assert decide(40) == []  # the same stall never twice
    send_now()
    (post,) = receiver.posts
    assert post.body["title"] == "Training job stuck is stalled in one phase"
    assert "in Downloading for" in post.body["message"]
    assert "p95 of 25 phases" in post.body["trainwatch"]["jobs"][0]["note"]


def test_the_floor_applies_when_the_p95_is_shorter(stall_rule, watched):
    history(watched, [1] * 25)  # a one-minute phase: p95 two minutes
    store(watched, downloading("slow"))
    assert decide(9.9) == []
    (alert,) = decide(10)
    assert alert.details["basis"] == "floor"
    AlertRule.objects.filter(pk=stall_rule.pk).update(stall_floor_minutes=30)
    store(watched, downloading("slower", start=DOWNLOAD_START + timedelta(minutes=1)))
    assert decide(29, start=DOWNLOAD_START + timedelta(minutes=1)) == []


def test_too_little_history_uses_the_phase_default_and_training_never_alerts_without_it(stall_rule, watched):
    history(watched, [1] * 5)  # five samples are not enough to trust
    store(watched, downloading("fresh"))
    assert decide(59) == []
    (alert,) = decide(60)
    assert alert.details["basis"] == "default for Downloading"
    training = describe_response("trains", status="InProgress", ResourceConfig={"InstanceType": "ml.g5.xlarge"})
    store(watched, training)
    assert [a.job.name for a in limits.decide_stalls(now=T0 + timedelta(days=3))] == []


def test_another_instance_type_has_its_own_history(stall_rule, watched):
    history(watched, [1] * 25, instance_type="ml.g5.xlarge")
    store(watched, downloading("other-type"))  # ml.p3.2xlarge: no history, the default (60 min)
    assert decide(30) == []
    assert len(decide(60)) == 1


def test_a_later_stall_in_another_phase_alerts_again(stall_rule, watched):
    history(watched, [1 + i for i in range(25)])  # Training lasted an hour: p95 in the 75-min bucket
    store(watched, downloading("twice"))
    (first,) = decide(30)
    training_start = DOWNLOAD_START + timedelta(minutes=45)
    moved = downloading("twice")
    moved["SecondaryStatus"] = "Training"
    moved["LastModifiedTime"] = training_start
    moved["SecondaryStatusTransitions"][1]["EndTime"] = training_start
    moved["SecondaryStatusTransitions"].append({"Status": "Training", "StartTime": training_start})
    store(watched, moved)
    assert limits.decide_stalls(now=training_start + timedelta(minutes=74)) == []
    (second,) = limits.decide_stalls(now=training_start + timedelta(minutes=75))
    assert second.event == f"stall:Training@{training_start.isoformat()}" != first.event
    assert limits.decide_stalls(now=training_start + timedelta(hours=3)) == []


def test_a_stall_that_began_before_the_rule_existed_is_history(stall_rule, watched):
    store(watched, downloading("old"))
    AlertRule.objects.filter(pk=stall_rule.pk).update(created_at=T0 + timedelta(hours=2))
    assert decide(24 * 60) == []


def _stall_queries(source: Source, count: int, prefix: str) -> tuple[int, int]:
    """Queries of the evaluation that decides ``count`` stalls, and of the next one (nothing new)."""
    store(source, *[downloading(f"{prefix}-{i}") for i in range(count)])
    cache.clear()  # the p95 aggregate is counted too
    with CaptureQueriesContext(connection) as deciding:
        assert len(decide(61)) == count
    cache.clear()
    with CaptureQueriesContext(connection) as again:
        assert decide(62) == []
    TrainingJob.objects.filter(name__startswith=prefix).update(status="Completed")
    return len(deciding.captured_queries), len(again.captured_queries)


def test_the_stall_decision_costs_the_same_queries_for_ten_running_jobs_as_for_a_hundred(stall_rule, watched):
    history(watched, [1] * 25)
    _stall_queries(watched, 1, "first")  # creates the TRAINWATCH_ALERT_URLS channel, once
    few, many, more = (_stall_queries(watched, n, f"n{n}") for n in (10, 80, 100))
    # Deciding: SQLite's cap on bound parameters splits 100 deliveries' insert in two.
    assert few[0] == many[0] <= 12  # and the record: savepoint, alerts, read back, channels, deliveries
    assert few[1] == more[1] == 4  # the rules, the running jobs, the p95s (uncached here), those decided


def test_nothing_in_a_phase_past_the_floor_costs_two_queries(stall_rule, watched):
    store(watched, downloading("young"))
    with CaptureQueriesContext(connection) as ctx:
        assert decide(5) == []
    assert len(ctx.captured_queries) == 2  # the rules, the running jobs: no aggregate


def test_the_migration_creates_a_built_in_stall_rule():
    assert AlertRule.objects.filter(builtin=True, kind=AlertKind.STALLED, muted=False).count() == 1
