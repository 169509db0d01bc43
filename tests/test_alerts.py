"""Alerts end to end: decided in the store's transaction, delivered over real HTTP to a loopback webhook."""

from __future__ import annotations

import email
import socket
from datetime import timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts import decide, delivery, limits
from alerts.models import Alert, AlertKind, AlertRule, Channel, Delivery, DeliveryStatus
from alerts.tasks import deliver_alerts
from dashboard.celery import app
from jobs import ingest, maintenance
from jobs.domain.parse import parse_training_job
from jobs.models import JobChange, Source, TrainingJob
from tests import alert_receiver
from tests.factories import T0, describe_response, make_source
from tests.test_ingest import race

pytestmark = pytest.mark.django_db

HOSTILE = "<!channel> <@U123> <#C42> [click here](https://evil.example/x) ![img](https://evil.example/i) @everyone"


@pytest.fixture
def watched(settings, receiver):
    """A source that has synced before, the built-in rules made before T0, alerts going to ``receiver``."""
    settings.TRAINWATCH_ALERT_URLS = [receiver.url]
    settings.TRAINWATCH_BASE_URL = "https://trainwatch.example"
    source = make_source(last_success_at=T0 - timedelta(days=1))
    AlertRule.objects.all().delete()
    for kind in (AlertKind.FAILED, AlertKind.STOPPED, AlertKind.MAX_RUNTIME, AlertKind.RESTARTED):
        AlertRule.objects.create(name=f"built-in {kind}", kind=kind, builtin=True, created_at=T0 - timedelta(days=1))
    return source


def store(source: Source, *responses: dict) -> list[ingest.Outcome]:
    items = [ingest.Description(parse_training_job(r), r, r.pop("_tags", None)) for r in responses]
    return ingest.store_descriptions(source, items, now=timezone.now())


def running(name: str, **overrides) -> dict:
    return describe_response(name, status="InProgress", **overrides)


def failed(name: str, **overrides) -> dict:
    return describe_response(name, status="Failed", **overrides)


def send_now(**kwargs) -> delivery.Sweep:
    return delivery.deliver_due(quiet_seconds=0, **kwargs)


def test_the_migration_creates_the_built_in_rules_with_completed_muted():
    kinds = dict(AlertRule.objects.filter(builtin=True).values_list("kind", "muted"))
    assert kinds == {
        AlertKind.FAILED: False,
        AlertKind.STOPPED: False,
        AlertKind.MAX_RUNTIME: False,
        AlertKind.RESTARTED: False,
        AlertKind.COMPLETED: True,
        AlertKind.NEAR_MAX_RUNTIME: False,
        AlertKind.SOURCE_HEALTH: False,
        AlertKind.STALLED: False,
        AlertKind.TEAM_BUDGET: False,  # with no budget: decides nothing until one is set
        AlertKind.METRICS_STALLED: False,
    }


@pytest.mark.django_db(transaction=True)
def test_a_job_failing_after_the_rule_exists_alerts_exactly_once_when_workers_race(watched, receiver):
    store(watched, running("race-fail"))
    race(lambda raw: store(watched, dict(raw)), [failed("race-fail")] * 4)
    assert Alert.objects.count() == 1
    assert send_now().sent == 1
    assert send_now().sent == 0
    assert len(receiver.posts) == 1
    post = receiver.posts[0].body
    job = post["trainwatch"]["jobs"][0]
    assert post["title"] == "Training job race-fail failed"
    assert (job["name"], job["status"], job["event"]) == ("race-fail", "Failed", "Failed")
    assert job["failure_reason"].startswith("AlgorithmError: RuntimeError: CUDA out of memory")
    assert job["duration_seconds"] == 3900
    assert job["url"].startswith("https://trainwatch.example/jobs/")
    assert "CUDA out of memory" in post["message"] and job["url"] in post["message"]
    key = receiver.posts[0].headers["Idempotency-Key"]
    assert key == post["idempotency_key"] == post["trainwatch"]["idempotency_key"]
    assert Delivery.objects.get().status == DeliveryStatus.SENT


def test_a_first_import_of_history_sends_nothing(settings, receiver):
    settings.TRAINWATCH_ALERT_URLS = [receiver.url]
    never_synced = make_source("fresh")
    store(never_synced, *[failed(f"old-{i}") for i in range(5)], describe_response("old-stop", status="Stopped"))
    assert not Alert.objects.exists()
    # Synced before, but AWS moved the job before the rule existed (the built-in rules are made at migrate).
    synced = make_source("synced", last_success_at=timezone.now())
    store(synced, running("then-failed"))
    store(synced, failed("then-failed"))
    assert not Alert.objects.exists()
    assert send_now().sent == 0 and receiver.posts == []


def test_a_job_first_seen_already_failed_alerts_once_its_source_has_synced(watched, receiver):
    # It started and failed between two cycles: news, not history.
    store(watched, failed("quick-fail"))
    assert list(Alert.objects.values_list("job__name", "event")) == [("quick-fail", "Failed")]


def test_two_hundred_jobs_failing_in_one_cycle_send_one_message_listing_them(watched, receiver):
    names = [f"capacity-{i:03}" for i in range(200)]
    store(watched, *[running(n) for n in names])
    reason = "CapacityError: Unable to provision requested ML compute capacity."
    for chunk in range(0, 200, 20):  # the cycle's describe tasks, 20 jobs each
        store(watched, *[failed(n, FailureReason=reason) for n in names[chunk : chunk + 20]])
    assert Alert.objects.count() == 200
    sweep = send_now()
    assert (sweep.sent, sweep.failed) == (1, 0)
    (post,) = receiver.posts
    assert post.body["title"] == "200 training jobs failed"
    assert post.body["trainwatch"]["count"] == 200
    assert sorted(j["name"] for j in post.body["trainwatch"]["jobs"]) == names
    assert "and 180 more" in post.body["message"]
    assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 200
    assert len(set(Delivery.objects.values_list("batch", flat=True))) == 1


def test_a_cycle_still_deciding_is_held_until_it_is_quiet(watched, receiver):
    store(watched, failed("first"))
    assert delivery.deliver_due(quiet_seconds=60).held == 1
    assert receiver.posts == []
    later = timezone.now() + timedelta(seconds=61)
    assert delivery.deliver_due(quiet_seconds=60, now=later).sent == 1


def test_hostile_failure_reasons_and_tags_arrive_as_inert_text(watched, receiver):
    store(watched, running("hostile"))
    raw = failed("hostile", FailureReason=HOSTILE + "\n" + "x" * 2000)
    raw["_tags"] = {"team": "<!here> [x](https://evil.example)", "<@U999>": "@channel"}
    store(watched, raw)
    send_now()
    (post,) = receiver.posts
    texts = [post.body["title"], post.body["message"], repr(post.body["trainwatch"])]
    for text in texts:
        for token in ("<!channel>", "<!here>", "<@U123>", "<@U999>", "<#C42>", "](", "@everyone", "@channel"):
            assert token not in text
    job = post.body["trainwatch"]["jobs"][0]
    assert job["failure_reason"].startswith("\u2039!channel\u203a \u2039@U123\u203a")
    assert len(job["failure_reason"]) == 500 and job["failure_reason"].endswith("…")
    assert job["tags"]["team"].startswith("\u2039!here\u203a")


def test_a_failing_channel_backs_off_turns_unhealthy_and_never_blocks_another(watched, receiver):
    other = alert_receiver.start()
    try:
        rule = AlertRule.objects.get(kind=AlertKind.FAILED)
        failing = Channel.objects.create(name="failing", url=receiver.url)
        working = Channel.objects.create(name="working", url=other.url)
        rule.channels.set([failing, working])
        receiver.status = 500
        store(watched, failed("flaky"))
        now = timezone.now()
        sweep = send_now(now=now)
        assert (sweep.sent, sweep.failed) == (1, 1)
        assert len(other.posts) == 1
        pending = Delivery.objects.get(channel=failing)
        assert (pending.status, pending.attempts) == (DeliveryStatus.PENDING, 1)
        assert pending.next_attempt_at == now + timedelta(seconds=30)
        assert send_now(now=now + timedelta(seconds=29)).failed == 0  # not yet due
        for _attempt in (2, 3):
            now += timedelta(hours=2)
            assert send_now(now=now).failed == 1
        failing.refresh_from_db()
        assert (failing.healthy, failing.consecutive_failures) == (False, 3)
        assert failing.last_error
        receiver.status = 200
        assert send_now(now=now + timedelta(hours=2)).sent == 1
        failing.refresh_from_db()
        assert failing.healthy and failing.consecutive_failures == 0
        keys = {p.headers["Idempotency-Key"] for p in receiver.posts}
        assert len(receiver.posts) == 4 and len(keys) == 1  # one message, retried under one key
        assert len(other.posts) == 1
    finally:
        other.close()


def test_a_worker_killed_mid_delivery_leads_to_one_more_attempt_under_the_same_key(watched, receiver):
    store(watched, failed("killed"))
    now = timezone.now()
    # What a killed sweep leaves: claimed (attempt counted), sent or not, never finished.
    Delivery.objects.update(
        status=DeliveryStatus.SENDING, attempts=1, batch="b" * 32, claim="dead", attempt_started_at=now
    )
    assert send_now(now=now + timedelta(minutes=1)).sent == 0  # may still be sending
    assert send_now(now=now + delivery.SENDING_TIMEOUT + timedelta(seconds=1)).sent == 1
    (post,) = receiver.posts
    assert post.headers["Idempotency-Key"] == "b" * 32
    assert Delivery.objects.get().attempts == 2


def test_a_muted_rule_and_a_rule_out_of_scope_decide_nothing(watched):
    AlertRule.objects.filter(kind=AlertKind.FAILED).update(muted=True)
    AlertRule.objects.create(
        name="vision only", kind=AlertKind.FAILED, scope_tag="team=vision", created_at=T0 - timedelta(days=1)
    )
    AlertRule.objects.create(
        name="resnets", kind=AlertKind.FAILED, scope_name_pattern="resnet-*", created_at=T0 - timedelta(days=1)
    )
    nlp = failed("bert-1")
    nlp["_tags"] = {"team": "nlp"}
    vision = failed("vit-1")
    vision["_tags"] = {"team": "vision"}
    store(watched, nlp, vision, failed("resnet-9"))
    assert sorted(Alert.objects.values_list("rule__name", "job__name")) == [
        ("resnets", "resnet-9"),
        ("vision only", "vit-1"),
    ]


def test_time_limits_and_restarts_alert_with_their_own_events(watched):
    store(watched, running("long"), running("spot"))
    store(watched, describe_response("long", status="Stopped", SecondaryStatus="MaxRuntimeExceeded"))
    interrupted = running("spot", SecondaryStatus="Interrupted")
    interrupted["LastModifiedTime"] += timedelta(minutes=10)
    store(watched, interrupted)
    assert sorted(Alert.objects.values_list("job__name", "rule__kind", "event")) == [
        ("long", AlertKind.MAX_RUNTIME, "MaxRuntimeExceeded"),
        ("spot", AlertKind.RESTARTED, f"restart@{interrupted['LastModifiedTime'].isoformat()}"),
    ]


def _decision_queries(source: Source, count: int, prefix: str) -> int:
    """The queries of deciding ``count`` failures, measured on the stored changes themselves."""
    names = [f"{prefix}-{i}" for i in range(count)]
    store(source, *[running(n) for n in names])
    store(source, *[failed(n) for n in names])
    changes = list(JobChange.objects.filter(job__name__startswith=prefix, new_status="Failed"))
    Alert.objects.filter(job__name__startswith=prefix).delete()
    with CaptureQueriesContext(connection) as ctx, transaction.atomic():
        decided = decide.decide(changes)
    assert len(decided) == count
    return len(ctx.captured_queries)


def test_the_decision_costs_the_same_queries_for_ten_jobs_as_for_eighty(watched):
    # Eighty: under SQLite's cap of bound parameters, where Django splits one bulk insert in several.
    few = _decision_queries(watched, 10, "few")
    many = _decision_queries(watched, 80, "many")
    assert few == many <= 10


def test_a_running_job_moving_phase_costs_the_decision_no_query(watched):
    store(watched, running("phases"))
    later = running("phases", SecondaryStatus="Uploading")
    later["LastModifiedTime"] += timedelta(minutes=1)
    with CaptureQueriesContext(connection) as ctx:
        store(watched, later)
    assert not any("alerts_" in q["sql"] for q in ctx.captured_queries)


def test_an_email_channel_gets_the_alert_as_plain_text_over_real_smtp(watched):
    class Inbox:
        def __init__(self) -> None:
            self.messages: list[bytes] = []

        async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook name
            self.messages.append(envelope.content)
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        mailbox = Channel.objects.create(
            name="email", url=f"mailto://127.0.0.1:{port}/?from=tw@example.com&to=oncall@example.com&mode=insecure"
        )
        AlertRule.objects.get(kind=AlertKind.FAILED).channels.set([mailbox])
        store(watched, running("mailed"))
        store(watched, failed("mailed", FailureReason=HOSTILE))
        assert send_now().sent == 1
    finally:
        smtp.stop()
    (raw,) = inbox.messages
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == "Training job mailed failed"
    assert message["Idempotency-Key"] == Delivery.objects.get().batch
    text = message.get_content()
    assert "mailed: Failed / Failed" in text and "https://trainwatch.example/jobs/" in text
    for token in ("<!channel>", "<@U123>", "](", "@everyone"):
        assert token not in text


def test_the_celery_task_is_the_sweep(watched, receiver, settings):
    settings.TRAINWATCH_ALERT_QUIET_SECONDS = 0
    store(watched, failed("tasked"))
    assert deliver_alerts.apply().get() == "sent 1, failed 0, held 0"
    assert len(receiver.posts) == 1


def test_beat_schedules_the_delivery_sweep():
    app.loader.import_default_modules()
    entry = app.conf.beat_schedule["deliver alerts"]
    assert entry["task"] == "alerts.tasks.deliver_alerts"
    assert entry["options"]["expires"] < entry["schedule"]


def test_the_default_channels_follow_the_setting(watched, settings, receiver):
    store(watched, failed("first-default"))
    first = Channel.objects.get(is_default=True)
    assert first.url == receiver.url
    settings.TRAINWATCH_ALERT_URLS = ["json://127.0.0.1:9/other"]
    store(watched, failed("second-default"))
    first.refresh_from_db()
    assert not first.is_default
    assert list(Delivery.objects.filter(alert__job__name="second-default").values_list("channel__url", flat=True)) == [
        "json://127.0.0.1:9/other"
    ]


def _near_limit_rule(**fields) -> AlertRule:
    return AlertRule.objects.create(
        name="near limit", kind=AlertKind.NEAR_MAX_RUNTIME, created_at=T0 - timedelta(days=1), **fields
    )


def test_a_running_job_past_ninety_percent_of_its_max_runtime_alerts_once(watched, receiver):
    _near_limit_rule()
    store(watched, running("long-run", StoppingCondition={"MaxRuntimeInSeconds": 3600}), running("short-way"))
    start = T0 + timedelta(minutes=5)  # the factory's TrainingStartTime
    assert limits.decide_limits(now=start + timedelta(seconds=3239)) == []
    (alert,) = limits.decide_limits(now=start + timedelta(seconds=3240))
    assert (alert.job.name, alert.event) == ("long-run", "runtime>=90%")
    assert limits.decide_limits(now=start + timedelta(seconds=3300)) == []  # once
    send_now()
    (post,) = receiver.posts
    assert post.body["title"] == "Training job long-run is near its MaxRuntime"


def test_a_job_past_the_share_before_the_rule_existed_is_history(watched):
    rule = _near_limit_rule(share_percent=50)
    store(watched, running("old-run", StoppingCondition={"MaxRuntimeInSeconds": 3600}))
    AlertRule.objects.filter(pk=rule.pk).update(created_at=T0 + timedelta(hours=1))
    assert limits.decide_limits(now=T0 + timedelta(hours=2)) == []


def _limit_queries(source: Source, count: int, prefix: str) -> int:
    store(source, *[running(f"{prefix}-{i}", StoppingCondition={"MaxRuntimeInSeconds": 600}) for i in range(count)])
    with CaptureQueriesContext(connection) as ctx:
        decided = limits.decide_limits(now=T0 + timedelta(hours=1))
    assert len(decided) == count
    TrainingJob.objects.filter(name__startswith=prefix).update(status="Completed")
    return len(ctx.captured_queries)


def test_the_limit_decision_costs_the_same_queries_for_ten_running_jobs_as_for_eighty(watched):
    _near_limit_rule()
    _limit_queries(watched, 1, "first")  # creates the TRAINWATCH_ALERT_URLS channel, once
    assert _limit_queries(watched, 10, "few") == _limit_queries(watched, 70, "many") <= 10


def _steady_limit_queries(source: Source, count: int, prefix: str) -> int:
    store(source, *[running(f"{prefix}-{i}", StoppingCondition={"MaxRuntimeInSeconds": 600}) for i in range(count)])
    assert len(limits.decide_limits(now=T0 + timedelta(hours=1))) == count
    with CaptureQueriesContext(connection) as ctx:
        assert limits.decide_limits(now=T0 + timedelta(hours=1, seconds=5)) == []
    TrainingJob.objects.filter(name__startswith=prefix).update(status="Completed")
    return len(ctx.captured_queries)


def test_a_sweep_after_the_limits_were_decided_costs_three_queries_for_ten_jobs_as_for_a_hundred(watched):
    _near_limit_rule()
    # The rules, the running jobs, their alerts decided before: nothing inserted again.
    assert _steady_limit_queries(watched, 10, "few") == _steady_limit_queries(watched, 100, "many") == 3


def test_old_alerts_are_pruned_with_the_history_unless_still_being_sent(watched, settings):
    settings.TRAINWATCH_RETENTION_DAYS = 30
    store(watched, failed("old-sent"), failed("old-pending"), failed("young"))
    send_now()
    Delivery.objects.filter(alert__job__name="old-pending").update(status=DeliveryStatus.PENDING)
    now = timezone.now()
    Alert.objects.exclude(job__name="young").update(created_at=now - timedelta(days=31))
    assert maintenance.prune_history(now)["alerts"] == 1
    assert sorted(Alert.objects.values_list("job__name", flat=True)) == ["old-pending", "young"]


def test_a_source_that_stops_syncing_alerts_once_per_outage(watched, receiver, settings):
    AlertRule.objects.create(name="sources", kind=AlertKind.SOURCE_HEALTH, created_at=T0 - timedelta(days=1))
    make_source("never")  # being set up: not an outage
    now = timezone.now()
    interval = settings.TRAINWATCH_SYNC_INTERVAL
    Source.objects.filter(pk=watched.pk).update(last_success_at=now - timedelta(seconds=interval), last_error="")
    assert limits.decide_source_health(now=now) == []
    Source.objects.filter(pk=watched.pk).update(last_error="ListTrainingJobs failed: <!channel> AccessDenied")
    (alert,) = limits.decide_source_health(now=now)
    assert (alert.source, alert.job, alert.status) == (watched, None, "failing")
    assert limits.decide_source_health(now=now + timedelta(minutes=5)) == []  # the same outage
    send_now()
    (post,) = receiver.posts
    assert post.body["title"] == "Source default is not syncing"
    assert post.body["trainwatch"]["sources"][0]["url"] == "https://trainwatch.example/status/"
    assert "<!channel>" not in post.body["message"]
    assert "default: failing;" in post.body["message"]
    # It recovers, then goes stale: a new outage, a new alert.
    later = now + timedelta(hours=1)
    Source.objects.filter(pk=watched.pk).update(last_success_at=later, last_error="")
    assert limits.decide_source_health(now=later) == []
    (again,) = limits.decide_source_health(now=later + timedelta(seconds=4 * interval))
    assert again.status == "stale" and again.event != alert.event


def test_a_source_that_recovered_before_the_message_says_what_it_was(watched, receiver, settings):
    AlertRule.objects.create(name="sources", kind=AlertKind.SOURCE_HEALTH, created_at=T0 - timedelta(days=1))
    now = timezone.now()
    Source.objects.filter(pk=watched.pk).update(
        last_success_at=now - timedelta(seconds=10 * settings.TRAINWATCH_SYNC_INTERVAL), last_error=""
    )
    (alert,) = limits.decide_source_health(now=now)
    assert alert.status == "stale"
    Source.objects.filter(pk=watched.pk).update(last_success_at=timezone.now())  # a cycle finished meanwhile
    send_now()
    (post,) = receiver.posts
    assert "default: stale;" in post.body["message"]
    assert "since recovered: last success" in post.body["message"]
