"""manage.py setup_events against moto's SQS and EventBridge over real HTTP: made once, found after, delivers."""

from __future__ import annotations

import json
from io import StringIO

import boto3
import pytest
from django.core.management import CommandError, call_command
from moto.backends import get_backend

from jobs import events_consumer
from jobs.domain import event_setup
from jobs.models import TrainingJob
from tests.factories import describe_response, state_change_event
from tests.integration.conftest import REGION

pytestmark = pytest.mark.django_db


@pytest.fixture
def aws(moto_url):
    clients = {
        "sqs": boto3.client("sqs", endpoint_url=moto_url, region_name=REGION),
        "events": boto3.client("events", endpoint_url=moto_url, region_name=REGION),
    }
    yield clients
    get_backend("sqs").reset()
    get_backend("events").reset()


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(events_consumer.tasks.describe_jobs, "delay", lambda source_id, names: None)


def _run(*args: str) -> str:
    out = StringIO()
    call_command("setup_events", *args, stdout=out)
    return out.getvalue()


def test_creates_then_finds_and_the_queue_receives_sagemaker_events(moto_source, aws, settings):
    settings.TRAINWATCH_SEARCH = False
    first = _run("--source", moto_source.name)
    assert "dead-letter queue created" in first and "rule created" in first and "queue created" in first
    assert "rule target created" in first

    names = event_setup.resource_names(moto_source.name)
    moto_source.refresh_from_db()
    url = aws["sqs"].get_queue_url(QueueName=names.queue)["QueueUrl"]
    assert moto_source.events_queue_url == url
    attributes = aws["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == event_setup.DEFAULT_MAX_RECEIVE
    assert redrive["deadLetterTargetArn"].endswith(f":{names.dead_letter_queue}")
    policy = json.loads(attributes["Policy"])["Statement"][0]
    assert policy["Principal"] == {"Service": "events.amazonaws.com"}
    assert policy["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(f"rule/{names.rule}")
    rule = aws["events"].describe_rule(Name=names.rule)
    assert json.loads(rule["EventPattern"]) == event_setup.EVENT_PATTERN

    second = _run("--source", moto_source.name)
    assert "created" not in second and "updated" not in second
    assert second.count("found") == 4 and "already reads" in second
    assert len(aws["sqs"].list_queues()["QueueUrls"]) == 2

    # What SageMaker would publish goes through the rule into the queue, and is stored.
    event = state_change_event(describe_response("pushed-1", status="InProgress"))
    sent = aws["events"].put_events(
        Entries=[{"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"])}]
    )
    assert sent["FailedEntryCount"] == 0
    events_consumer.consume_once(moto_source, url, wait_seconds=1)
    assert TrainingJob.objects.get(name="pushed-1").status == "InProgress"


def test_a_changed_receive_count_updates_the_queue_only(moto_source, aws):
    _run("--source", moto_source.name)
    changed = _run("--source", moto_source.name, "--max-receive", "9")
    assert "queue updated" in changed and "rule found" in changed and "dead-letter queue found" in changed
    url = aws["sqs"].get_queue_url(QueueName=event_setup.resource_names(moto_source.name).queue)["QueueUrl"]
    attributes = aws["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]
    assert int(json.loads(attributes["RedrivePolicy"])["maxReceiveCount"]) == 9


def test_print_writes_a_template_and_calls_nothing(moto_source, aws):
    template = json.loads(_run("--source", moto_source.name, "--print"))
    assert set(template["Resources"]) == {"DeadLetterQueue", "EventsQueue", "EventsRule", "EventsQueuePolicy"}
    assert template["Resources"]["EventsRule"]["Properties"]["EventPattern"] == event_setup.EVENT_PATTERN
    assert aws["sqs"].list_queues().get("QueueUrls", []) == []
    moto_source.refresh_from_db()
    assert moto_source.events_queue_url == ""


def test_unknown_source_and_bad_counts_are_errors(moto_source):
    with pytest.raises(CommandError, match="No source named"):
        _run("--source", "nope")
    with pytest.raises(CommandError, match="max-receive"):
        _run("--source", moto_source.name, "--max-receive", "0")
