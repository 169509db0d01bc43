"""The simulated account's SQS queue of state-change events, over real HTTP with boto3."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from jobs import events_consumer, sagemaker
from jobs.domain.events import parse_event_body
from jobs.models import JobChange, Source, TrainingJob
from simulator import SimulatedSageMaker

from .conftest import client_for
from .shapes import assert_valid, output_shape


@pytest.fixture
def quiet_sim(make_sim: Callable[..., SimulatedSageMaker]) -> SimulatedSageMaker:
    """A simulator whose queue neither duplicates nor holds back (tests that count messages)."""
    sim = make_sim(jobs=200, seed=7)
    sim.events_queue.duplicate_rate = 0
    sim.events_queue.reorder_rate = 0
    return sim


@pytest.fixture
def sqs(quiet_sim: SimulatedSageMaker) -> Any:
    return client_for(quiet_sim, service="sqs")


def _valid(response: dict[str, Any], op: str) -> dict[str, Any]:
    response.pop("ResponseMetadata", None)
    assert_valid(response, output_shape(op, "sqs"))
    return response


def _receive(sqs: Any, url: str, **kwargs: Any) -> list[dict[str, Any]]:
    page = _valid(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **kwargs), "ReceiveMessage")
    return page.get("Messages", [])


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while batch := _receive(sqs, url):
        out += batch
    return out


def test_queue_url_and_attributes(quiet_sim: SimulatedSageMaker, sqs: Any) -> None:
    url = _valid(sqs.get_queue_url(QueueName="trainwatch-events"), "GetQueueUrl")["QueueUrl"]
    assert url == quiet_sim.events_queue_url and url.startswith(quiet_sim.endpoint_url)
    attrs = _valid(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]), "GetQueueAttributes")
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"
    with pytest.raises(ClientError) as exc:
        sqs.get_queue_url(QueueName="other")
    assert exc.value.response["Error"]["Code"] == "QueueDoesNotExist"


def test_events_follow_the_clock_and_match_describe(quiet_sim: SimulatedSageMaker, sqs: Any) -> None:
    url = quiet_sim.events_queue_url
    assert _receive(sqs, url) == []  # nothing changed since the queue was made
    quiet_sim.clock.advance(4 * 3600)
    messages = _drain(sqs, url)
    assert len(messages) >= 5
    now_ms = quiet_sim.clock.timestamp() * 1000
    for m in messages:
        assert json.loads(m["Body"])["source"] == "aws.sagemaker"
        event = parse_event_body(m["Body"])  # the product's own parse reads every one
        assert event.parsed.last_modified_time.timestamp() * 1000 <= now_ms  # never after the account's now
        assert "BillableTimeInSeconds" not in json.loads(m["Body"])["detail"]
    # Each job's last event says what a describe says now (statuses of its latest transition).
    last: dict[str, Any] = {}
    for m in messages:
        p = parse_event_body(m["Body"]).parsed
        if p.name not in last or p.last_modified_time >= last[p.name].last_modified_time:
            last[p.name] = p
    for name, p in last.items():
        d = quiet_sim.describe(name)
        assert (p.status, p.secondary_status) == (d["TrainingJobStatus"], d["SecondaryStatus"])


def test_delete_and_visibility_timeout_redelivery(quiet_sim: SimulatedSageMaker, sqs: Any) -> None:
    url = quiet_sim.events_queue_url
    quiet_sim.clock.advance(4 * 3600)
    first = _receive(sqs, url, VisibilityTimeout=30)
    assert len(first) >= 2
    _drain(sqs, url)  # take the rest in flight too (default 30 s)
    keep, drop = first[0], first[1]
    assert sqs.delete_message(QueueUrl=url, ReceiptHandle=drop["ReceiptHandle"])
    quiet_sim.clock.advance(29)
    assert _receive(sqs, url) == []  # still invisible
    quiet_sim.clock.advance(2)
    again = _drain(sqs, url)
    ids = {m["MessageId"] for m in again}
    assert keep["MessageId"] in ids and drop["MessageId"] not in ids
    back = next(m for m in again if m["MessageId"] == keep["MessageId"])
    assert back["ReceiptHandle"] != keep["ReceiptHandle"] and back["Attributes"]["ApproximateReceiveCount"] == "2"


def test_change_visibility_and_batch_delete(quiet_sim: SimulatedSageMaker, sqs: Any) -> None:
    url = quiet_sim.events_queue_url
    quiet_sim.clock.advance(4 * 3600)
    got = _drain(sqs, url)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0)
    assert [m["MessageId"] for m in _receive(sqs, url)] == [got[0]["MessageId"]]
    entries = [{"Id": str(k), "ReceiptHandle": m["ReceiptHandle"]} for k, m in enumerate(got[1:4])]
    entries.append({"Id": "bad", "ReceiptHandle": "not-a-handle"})
    result = _valid(sqs.delete_message_batch(QueueUrl=url, Entries=entries), "DeleteMessageBatch")
    assert {s["Id"] for s in result["Successful"]} == {"0", "1", "2"}
    assert [(f["Id"], f["Code"]) for f in result["Failed"]] == [("bad", "ReceiptHandleIsInvalid")]
    quiet_sim.clock.advance(31)
    left = {m["MessageId"] for m in _drain(sqs, url)}
    assert left.isdisjoint(m["MessageId"] for m in got[1:4]) and got[4]["MessageId"] in left
    with pytest.raises(ClientError) as exc:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    assert exc.value.response["Error"]["Code"] == "ReceiptHandleIsInvalid"


def test_a_stop_is_published_at_once(quiet_sim: SimulatedSageMaker, sqs: Any) -> None:
    url = quiet_sim.events_queue_url
    client = client_for(quiet_sim)
    running = next(
        n for n in reversed(quiet_sim.job_names()) if quiet_sim.describe(n)["TrainingJobStatus"] == "InProgress"
    )
    _drain(sqs, url)
    client.stop_training_job(TrainingJobName=running)
    statuses = [parse_event_body(m["Body"]).parsed.status for m in _drain(sqs, url)]
    assert statuses == ["Stopping"]


def test_duplicates_and_reordering_are_seeded_and_rare(make_sim: Callable[..., SimulatedSageMaker]) -> None:
    sim = make_sim(jobs=200, seed=7)
    sim.events_queue.duplicate_rate = sim.events_queue.reorder_rate = 0.3
    sqs = client_for(sim, service="sqs")
    sim.clock.advance(4 * 3600)
    bodies = [m["Body"] for m in _drain(sqs, sim.events_queue_url)]
    sim.clock.advance(5)  # the held-back ones
    bodies += [m["Body"] for m in _drain(sqs, sim.events_queue_url)]
    assert len(bodies) > len(set(bodies))  # some sent twice


@pytest.mark.django_db
def test_consumer_stores_a_simulated_status_change(make_sim: Callable[..., SimulatedSageMaker]) -> None:
    sim = make_sim(jobs=200, seed=7)
    sim.events_queue.duplicate_rate = 1.0  # every event twice: the second must change nothing
    sim.events_queue.reorder_rate = 0
    sagemaker.reset_clients()
    source = Source.objects.create(
        name="simulated", region="us-east-1", endpoint_url=sim.endpoint_url, events_queue_url=sim.events_queue_url
    )
    sim.clock.advance(4 * 3600)
    queued: list[str] = []
    total = events_consumer.Consumed()
    while (
        c := events_consumer.consume_once(
            source, source.events_queue_url, wait_seconds=0, dispatch=lambda s, names: queued.extend(names)
        )
    ).received:
        total = events_consumer.Consumed(
            total.received + c.received,
            total.changed + c.changed,
            total.malformed,
            total.deleted + c.deleted,
            total.described + c.described,
        )
    assert total.received >= 10 and total.deleted == total.received and total.malformed == 0
    assert total.changed <= total.received // 2  # each change counted once, its duplicate changed nothing
    assert sim.events_queue.counts() == (0, 0)
    for job in TrainingJob.objects.filter(source=source):
        d = sim.describe(job.name)
        assert (job.status, job.secondary_status) == (d["TrainingJobStatus"], d["SecondaryStatus"])
    assert JobChange.objects.filter(job__source=source).exists()
    finished = set(
        TrainingJob.objects.filter(source=source, status__in=["Completed", "Failed", "Stopped"]).values_list(
            "name", flat=True
        )
    )
    assert set(queued) == finished  # terminal ones described once for what events lack
    sagemaker.reset_clients()
