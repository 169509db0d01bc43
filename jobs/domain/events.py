"""Turn an EventBridge "SageMaker Training Job State Change" event into the product's terms.

The event's ``detail`` is DescribeTrainingJob-shaped except that its times are
epoch-millisecond strings and its Tags a map, and it lacks the billing fields
and final metrics. It is converted to a describe-shaped dict and read by
``parse_training_job``, so there is one mapping from AWS's fields to ours.
The message is untrusted input: anything unreadable raises MalformedEvent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jobs.domain.parse import MalformedResponse, ParsedJob, _job_name_of, clean_text, parse_training_job

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Training Job State Change"
TIME_FIELDS = ("CreationTime", "TrainingStartTime", "TrainingEndTime", "LastModifiedTime")
TRANSITION_TIMES = ("StartTime", "EndTime")
# Epoch milliseconds a datetime can hold (years 1..9999), so the conversion cannot overflow.
_MIN_MS = -62_135_596_800_000
_MAX_MS = 253_402_300_799_999
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class MalformedEvent(MalformedResponse):
    """The message is not a SageMaker training job state change we can store."""


@dataclass(frozen=True)
class JobEvent:
    parsed: ParsedJob
    tags: dict[str, str] | None
    detail: dict[str, Any]  # the describe-shaped detail, for the raw column


def parse_event_body(body: Any) -> JobEvent:
    """An SQS message body (the event as JSON text) -> JobEvent."""
    if not isinstance(body, str):
        raise MalformedEvent("", f"message body is {type(body).__name__}, not text")
    try:
        event = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedEvent("", f"message body is not JSON: {str(exc)[:200]}") from None
    return parse_event(event)


def parse_event(event: Any) -> JobEvent:
    """Validate one EventBridge event and read its detail as a describe response."""
    if not isinstance(event, dict):
        raise MalformedEvent("", f"event is {type(event).__name__}, not an object")
    if event.get("source") != SOURCE or event.get("detail-type") != DETAIL_TYPE:
        raise MalformedEvent(
            "",
            f"not a {DETAIL_TYPE!r} event: source {_show(event.get('source'))}, "
            f"detail-type {_show(event.get('detail-type'))}",
        )
    detail = event.get("detail")
    name = _job_name_of(detail)
    if not isinstance(detail, dict):
        raise MalformedEvent(name, f"detail is {type(detail).__name__}, not an object")
    described = dict(detail)
    for key in TIME_FIELDS:
        described[key] = _time(detail.get(key), key, name)
    transitions = detail.get("SecondaryStatusTransitions")
    if isinstance(transitions, list):
        described["SecondaryStatusTransitions"] = [
            {**item, **{k: _time(item.get(k), f"SecondaryStatusTransitions[{i}].{k}", name) for k in TRANSITION_TIMES}}
            if isinstance(item, dict)
            else item
            for i, item in enumerate(transitions)
        ]
    tags = _tags(described.pop("Tags", None), name)
    try:
        parsed = parse_training_job(described)
    except MalformedResponse as exc:
        raise MalformedEvent(exc.job_name, exc.detail) from None
    return JobEvent(parsed, tags, described)


def _show(value: Any) -> str:
    return repr(clean_text(value)[:100]) if isinstance(value, str) else type(value).__name__


def _time(value: Any, path: str, name: str) -> datetime | None:
    """An epoch-millisecond string (AWS sends strings; a number is taken too) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedEvent(name, f"{path} has type {type(value).__name__}")
    try:
        ms = int(value.strip()) if isinstance(value, str) else value
    except ValueError:
        raise MalformedEvent(name, f"{path} is not epoch milliseconds: {_show(value)}") from None
    if not _MIN_MS <= ms <= _MAX_MS:
        raise MalformedEvent(name, f"{path} is {ms}, outside the datetime range")
    return _EPOCH + timedelta(milliseconds=ms)


def _tags(value: Any, name: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise MalformedEvent(name, "Tags is not a map of text to text")
    return {clean_text(k): clean_text(v) for k, v in value.items()}
