"""The EventBridge state-change parse: the describe's mapping, and only MalformedEvent on bad input."""

from __future__ import annotations

import contextlib
import copy
import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.domain.events import MalformedEvent, parse_event, parse_event_body
from jobs.domain.parse import MalformedResponse, parse_training_job
from tests.factories import T0, describe_response, state_change_event


@pytest.mark.parametrize("status", ["InProgress", "Completed", "Failed", "Stopped"])
def test_event_parses_to_what_the_describe_parses_to_less_the_fields_events_lack(status):
    describe = describe_response("evt-job", status=status)
    event = parse_event(state_change_event(describe, tags={"team": "nlp"}))
    described = parse_training_job(describe)
    lacking = {"training_time_seconds": None, "reported_billable_seconds": None, "metrics": []}
    assert event.parsed == replace(described, **lacking)
    assert event.parsed.creation_time == T0
    assert event.tags == {"team": "nlp"}
    assert "Tags" not in event.detail


def test_failure_reason_and_transition_times_are_read():
    describe = describe_response("evt-failed", status="Failed")
    parsed = parse_event(state_change_event(describe)).parsed
    assert parsed.failure_reason.startswith("AlgorithmError")
    assert [t.start_time for t in parsed.transitions] == [
        t["StartTime"] for t in describe["SecondaryStatusTransitions"]
    ]


def test_body_is_json_text():
    event = state_change_event(describe_response("evt-body"))
    assert parse_event_body(json.dumps(event)).parsed.name == "evt-body"


def _broken(change) -> dict[str, Any]:
    event = state_change_event(describe_response("evt-broken", status="InProgress"))
    change(event)
    return event


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda e: e.update({"detail-type": "SageMaker Endpoint State Change"}), "detail-type"),
        (lambda e: e.update({"source": "aws.ec2"}), "source"),
        (lambda e: e.pop("detail"), "detail is NoneType"),
        (lambda e: e.update({"detail": ["x"]}), "detail is list"),
        (lambda e: e["detail"].pop("TrainingJobArn"), "TrainingJobArn is missing"),
        (lambda e: e["detail"].pop("CreationTime"), "CreationTime is missing"),
        (lambda e: e["detail"].update({"LastModifiedTime": "yesterday"}), "LastModifiedTime is not epoch"),
        (lambda e: e["detail"].update({"CreationTime": "9" * 30}), "outside the datetime range"),
        (lambda e: e["detail"].update({"TrainingStartTime": 1.5}), "TrainingStartTime has type float"),
        (lambda e: e["detail"].update({"TrainingStartTime": True}), "has type bool"),
        (lambda e: e["detail"]["SecondaryStatusTransitions"][0].update({"StartTime": "x"}), "Transitions[0].StartTime"),
        (lambda e: e["detail"].update({"Tags": [{"Key": "a", "Value": "b"}]}), "Tags"),
        (lambda e: e["detail"].update({"TrainingJobStatus": 3}), "TrainingJobStatus has type int"),
    ],
)
def test_malformed_events_raise_malformed_event(change, says):
    with pytest.raises(MalformedEvent) as caught:
        parse_event(_broken(change))
    assert says in str(caught.value)


@pytest.mark.parametrize("body", ["", "{", "null", "[]", '"text"', "[" * 100_000, None])
def test_unreadable_bodies_raise_malformed_event(body):
    with pytest.raises(MalformedEvent):
        parse_event_body(body)


def test_malformed_event_is_a_malformed_response():
    """Callers that already record MalformedResponse as a SyncError record these too."""
    assert issubclass(MalformedEvent, MalformedResponse)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
TIMEISH = st.one_of(
    JSON,
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.from_regex(r"\A\s*-?[0-9_]{1,25}\s*\Z"),
)
KEYS = [
    "TrainingJobName",
    "TrainingJobArn",
    "TrainingJobStatus",
    "SecondaryStatus",
    "CreationTime",
    "TrainingStartTime",
    "TrainingEndTime",
    "LastModifiedTime",
    "SecondaryStatusTransitions",
    "FailureReason",
    "Tags",
    "ResourceConfig",
    "ModelArtifacts",
    "StoppingCondition",
]


@st.composite
def mutated_events(draw) -> Any:
    event = copy.deepcopy(
        state_change_event(
            describe_response("evt-fuzz", status=draw(st.sampled_from(["InProgress", "Completed", "Failed"])))
        )
    )
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(KEYS))
        action = draw(st.sampled_from(["drop", "json", "time", "transition"]))
        if action == "drop":
            event["detail"].pop(key, None)
        elif action == "json":
            event["detail"][key] = draw(JSON)
        elif action == "time":
            event["detail"][key] = draw(TIMEISH)
        elif (
            isinstance(event["detail"].get("SecondaryStatusTransitions"), list)
            and event["detail"]["SecondaryStatusTransitions"]
        ):
            item = event["detail"]["SecondaryStatusTransitions"][0]
            if isinstance(item, dict):
                item[draw(st.sampled_from(["StartTime", "EndTime", "Status"]))] = draw(TIMEISH)
    if draw(st.booleans()) and draw(st.booleans()):
        event = draw(st.one_of(JSON, st.just({**event, "detail-type": draw(st.text(max_size=5))})))
    return event


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_events())
def test_fuzzed_events_parse_or_raise_malformed_event_only(event):
    try:
        parsed = parse_event(event).parsed
    except MalformedEvent:
        return
    assert parsed.name and parsed.arn and parsed.creation_time.tzinfo is not None


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), JSON.map(json.dumps)))
def test_fuzzed_bodies_parse_or_raise_malformed_event_only(body):
    with contextlib.suppress(MalformedEvent):
        parse_event_body(body)


def test_event_resources_names_fit_aws_limits():
    from jobs.domain import event_setup

    names = event_setup.resource_names("prod account / eu-west-1 " + "x" * 200)
    assert len(names.queue) <= 76 and len(names.dead_letter_queue) <= 80 and len(names.rule) <= 64
    assert all(ch.isalnum() or ch in "-_" for ch in names.queue + names.rule)
    assert names.dead_letter_queue == names.queue + "-dlq"
    assert event_setup.resource_names("///").queue == "trainwatch-events-default"
    policy = json.loads(event_setup.queue_policy("arn:q", "arn:r"))
    assert policy["Statement"][0]["Resource"] == "arn:q"
    redrive = json.loads(event_setup.redrive_policy("arn:d", 4))
    assert redrive == {"deadLetterTargetArn": "arn:d", "maxReceiveCount": "4"}
