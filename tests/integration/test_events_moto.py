"""SageMaker state-change events through moto's EventBridge and SQS over real HTTP, into the ingest."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import boto3
import pytest
from django.core.management import call_command
from django.utils import timezone
from moto.backends import get_backend

from jobs import events_consumer, sync
from jobs.domain.parse import parse_training_job
from jobs.ingest import store_description
from jobs.models import JobChange, SyncError, SyncErrorKind, TrainingJob
from tests.factories import T0, describe_response, state_change_event
from tests.integration.conftest import REGION, create_job

pytestmark = pytest.mark.django_db

PATTERN = {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Training Job State Change"]}


@pytest.fixture
def queue(moto_url, moto_source) -> dict[str, Any]:
    sqs = boto3.client("sqs", endpoint_url=moto_url, region_name=REGION)
    events = boto3.client("events", endpoint_url=moto_url, region_name=REGION)
    url = sqs.create_queue(QueueName="sagemaker-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="sagemaker-state", EventPattern=json.dumps(PATTERN))
    events.put_targets(Rule="sagemaker-state", Targets=[{"Id": "queue", "Arn": arn}])
    moto_source.events_queue_url = url
    moto_source.save()
    yield {"url": url, "sqs": sqs, "events": events}
    get_backend("sqs").reset()
    get_backend("events").reset()


@pytest.fixture
def queued() -> list[str]:
    """Names of the describes the consumer queues (no broker here)."""
    return []


@pytest.fixture(autouse=True)
def no_broker(describe_path, queued, monkeypatch):
    monkeypatch.setattr(events_consumer.tasks.describe_jobs, "delay", lambda source_id, names: queued.extend(names))


@pytest.fixture
def describe_path(settings):
    settings.TRAINWATCH_SEARCH = False


def consume_once(source, url, **kwargs):
    return events_consumer.consume_once(source, url, wait_seconds=1, **kwargs)


def publish(queue: dict[str, Any], *events: dict[str, Any]) -> None:
    """What SageMaker would send (moto never emits these itself): through the rule into the queue."""
    entries = [
        {
            "Source": e["source"],
            "DetailType": e["detail-type"],
            "Detail": json.dumps(e["detail"]),
            "Resources": e.get("resources", []),
        }
        for e in events
    ]
    response = queue["events"].put_events(Entries=entries)
    assert response["FailedEntryCount"] == 0


def in_queue(queue: dict[str, Any]) -> int:
    attributes = queue["sqs"].get_queue_attributes(
        QueueUrl=queue["url"], AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def running(name: str) -> dict[str, Any]:
    return state_change_event(describe_response(name, status="InProgress"))


def completed(name: str) -> dict[str, Any]:
    return state_change_event(describe_response(name, status="Completed"))


def test_events_are_stored_and_deleted(queue, moto_source):
    publish(queue, running("evt-a"), completed("evt-b"))
    consumed = consume_once(moto_source, queue["url"])
    assert (consumed.received, consumed.changed, consumed.malformed, consumed.deleted) == (2, 2, 0, 2)
    jobs = dict(TrainingJob.objects.values_list("name", "status"))
    assert jobs == {"evt-a": "InProgress", "evt-b": "Completed"}
    assert JobChange.objects.filter(is_new=True).count() == 2
    assert in_queue(queue) == 0
    moto_source.refresh_from_db()
    assert moto_source.last_event_at is not None  # stored in the same transaction: push

    # The job moves on: seen in one batch, with its outbox row.
    publish(queue, completed("evt-a"))
    assert consume_once(moto_source, queue["url"]).changed == 1
    assert TrainingJob.objects.get(name="evt-a").status == "Completed"
    change = JobChange.objects.latest("id")
    assert (change.old_status, change.new_status) == ("InProgress", "Completed")


def test_duplicates_and_older_events_change_nothing(queue, moto_source):
    publish(queue, completed("evt-c"))
    consume_once(moto_source, queue["url"])
    job = TrainingJob.objects.get(name="evt-c")
    changes = JobChange.objects.count()

    # Redelivered, and the job's InProgress event arriving after its Completed one.
    publish(queue, completed("evt-c"), running("evt-c"))
    consumed = consume_once(moto_source, queue["url"])
    assert (consumed.received, consumed.changed, consumed.deleted) == (2, 0, 2)
    assert JobChange.objects.count() == changes
    job.refresh_from_db()
    assert (job.status, job.last_modified_time) == ("Completed", T0 + timedelta(minutes=65))
    assert in_queue(queue) == 0


def test_an_older_event_never_overwrites_a_newer_describe(queue, moto_source):
    describe = describe_response("evt-d", status="Failed")
    store_description(moto_source, parse_training_job(describe), describe, now=timezone.now())
    changes = JobChange.objects.count()
    publish(queue, running("evt-d"))
    assert consume_once(moto_source, queue["url"]).changed == 0
    job = TrainingJob.objects.get(name="evt-d")
    assert (job.status, job.reported_billable_seconds) == ("Failed", 3600)
    assert job.failure_reason.startswith("AlgorithmError")
    assert JobChange.objects.count() == changes


def test_a_newer_event_makes_the_job_due_for_a_describe(queue, moto_source):
    describe = describe_response("evt-e", status="InProgress")
    store_description(moto_source, parse_training_job(describe), describe, now=timezone.now())
    publish(queue, completed("evt-e"))
    consume_once(moto_source, queue["url"])
    job = TrainingJob.objects.get(name="evt-e")
    assert job.status == "Completed"
    # The fields events lack come from the describe this schedules; until then the described ones stand.
    assert job.last_modified_time > job.described_last_modified_time
    assert job.instance_type == "ml.p3.2xlarge"


def test_a_malformed_message_is_a_sync_error_and_stays_queued(queue, moto_source):
    broken = running("evt-bad")
    del broken["detail"]["TrainingJobArn"]
    publish(queue, broken, running("evt-good"))
    consumed = consume_once(moto_source, queue["url"])
    assert (consumed.received, consumed.changed, consumed.malformed, consumed.deleted) == (2, 1, 1, 1)
    error = SyncError.objects.get()
    assert (error.kind, error.job_name, error.source) == (SyncErrorKind.EVENT, "evt-bad", moto_source)
    assert "TrainingJobArn is missing" in error.message
    assert list(TrainingJob.objects.values_list("name", flat=True)) == ["evt-good"]
    assert in_queue(queue) == 1  # left for the redrive policy, not deleted


def test_a_message_that_is_not_json_stays_queued(queue, moto_source):
    queue["sqs"].send_message(QueueUrl=queue["url"], MessageBody="not an event")
    consumed = consume_once(moto_source, queue["url"])
    assert (consumed.malformed, consumed.deleted) == (1, 0)
    assert SyncError.objects.get().kind == SyncErrorKind.EVENT
    assert in_queue(queue) == 1
    moto_source.refresh_from_db()
    assert moto_source.last_event_at is None  # no event stored: not push


def test_consume_events_once_command(queue, moto_source, capsys):
    publish(queue, completed("evt-cmd"))
    call_command("consume_events", "--once", "--wait", "1")
    assert "moto: received 1, changed 1, malformed 0, deleted 1, describes queued 1" in capsys.readouterr().out
    assert TrainingJob.objects.get(name="evt-cmd").status == "Completed"


def test_terminal_events_queue_one_describe(queue, moto_source, queued):
    failed = state_change_event(describe_response("evt-h", status="Failed"))
    publish(queue, running("evt-f"), completed("evt-g"), failed)
    assert consume_once(moto_source, queue["url"]).described == 2
    assert sorted(queued) == ["evt-g", "evt-h"]
    assert TrainingJob.objects.get(name="evt-g").describe_queued_at is not None
    # The same terminal event again: its describe is in flight, none more.
    publish(queue, completed("evt-g"))
    assert consume_once(moto_source, queue["url"]).described == 0
    assert sorted(queued) == ["evt-g", "evt-h"]


def test_the_queued_describe_fills_in_what_events_lack(queue, moto_source, sm_client):
    create_job(sm_client, "evt-real")  # moto's jobs are born Completed
    arn = sm_client.describe_training_job(TrainingJobName="evt-real")["TrainingJobArn"]
    event = completed("evt-real")
    event["detail"]["TrainingJobArn"] = arn
    publish(queue, event)

    def describe_now(source, names):
        sync.describe_chunk(source, names, cycle_id=None)

    consumed = consume_once(moto_source, queue["url"], dispatch=describe_now)
    assert consumed.described == 1
    job = TrainingJob.objects.get(name="evt-real")
    assert job.described_at is not None
    assert job.instance_type == "ml.m5.xlarge"  # moto's describe, not the event's
    assert job.described_last_modified_time >= job.last_modified_time
    # Described that far: a redelivered terminal event queues nothing.
    publish(queue, event)
    assert consume_once(moto_source, queue["url"], dispatch=describe_now).described == 0


def test_a_broker_that_refuses_leaves_the_describe_to_polling(queue, moto_source):
    def refuse(source, names):
        raise ConnectionError("broker down")

    publish(queue, completed("evt-i"))
    consumed = consume_once(moto_source, queue["url"], dispatch=refuse)
    assert (consumed.changed, consumed.deleted, consumed.described) == (1, 1, 0)
    job = TrainingJob.objects.get(name="evt-i")
    assert job.describe_queued_at is None
    assert TrainingJob.objects.needing_describe().filter(pk=job.pk).exists()


def test_a_consumer_killed_between_commit_and_delete_changes_nothing_on_redelivery(queue, moto_source, monkeypatch):
    queue["sqs"].set_queue_attributes(QueueUrl=queue["url"], Attributes={"VisibilityTimeout": "1"})
    publish(queue, completed("evt-k"))

    class Killed(BaseException):
        """Not an Exception: nothing in the consumer may catch it, as nothing catches SIGKILL."""

    def die(*args, **kwargs):
        raise Killed

    with monkeypatch.context() as patched:
        patched.setattr(events_consumer.sagemaker, "delete_messages", die)
        with pytest.raises(Killed):
            consume_once(moto_source, queue["url"])
    assert TrainingJob.objects.get(name="evt-k").status == "Completed"  # committed before the delete
    changes = JobChange.objects.count()

    time.sleep(1.2)  # the visibility timeout: SQS delivers the message again
    consumed = consume_once(moto_source, queue["url"])
    assert (consumed.received, consumed.changed, consumed.deleted) == (1, 0, 1)
    assert JobChange.objects.count() == changes
    assert in_queue(queue) == 0
