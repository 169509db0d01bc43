"""Fuzz the describe -> parse -> ingest path with responses shaped by botocore's model.

Strategies are built by walking DescribeTrainingJob's output shape, so every
member AWS may send today is exercised: structures, lists, maps, strings
(hostile ones included), out-of-range numbers, timestamps, enums with values
AWS has not invented yet, optional members left out, and now and then a
required member missing or of the wrong type. Whatever comes back, the sync
path must not raise, must store the job or record a SyncError, and must never
corrupt a row it stored before.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import botocore.session
import pytest
from django.db import transaction
from django.forms.models import model_to_dict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs import sagemaker, search_sync, sync
from jobs.domain.parse import MalformedResponse, parse_training_job
from jobs.models import SyncError, TrainingJob
from tests.factories import T0, arn_of, describe_response, make_job, make_source

# These patch describe_job at our wrapper: the describe path, without Search.
pytestmark = pytest.mark.usefixtures("describe_only")

SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")
OUTPUT = SAGEMAKER.operation_model("DescribeTrainingJob").output_shape
GOOD = "fuzz-good-job"

HOSTILE = [
    "<script>window.__xss=1</script>",
    '"><img src=x onerror="window.__xss=1">',
    "javascript:alert(1)",
    "\u202etxt.exe",
    "nul\x00byte",
    "\x00",
    "lone \ud800 surrogate",
    "x" * 10_000,
    "",
    " ",
    "line\nbreak\r\n\ttab",
    "🚀 ünïcödé ﷽",
    "%s %(x)s {0} {x}",
    "'; DROP TABLE jobs_trainingjob; --",
]
text = st.one_of(st.text(max_size=40), st.sampled_from(HOSTILE))
# Anything a JSON parser could hand back where the model promised something else.
wrong_type = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    text,
    st.lists(st.integers(), max_size=2),
    st.dictionaries(text, text, max_size=2),
)
big_int = st.one_of(
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.integers(-(2**70), 2**70),
    st.sampled_from([-1, 0, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**400]),
)
any_float = st.one_of(
    st.floats(-1e6, 1e6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
    st.just(10**400),
)
moment = st.one_of(
    st.datetimes(min_value=datetime(2017, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    st.datetimes(timezones=st.sampled_from([UTC, None])),
)


def strategy(shape: Any, depth: int = 0) -> st.SearchStrategy:
    kind = shape.type_name
    if kind == "structure":
        if depth > 3:
            return st.fixed_dictionaries({})
        members = {name: strategy(member, depth + 1) for name, member in shape.members.items()}
        required = set(getattr(shape, "required_members", []))
        return st.fixed_dictionaries(
            {k: v for k, v in members.items() if k in required},
            optional={k: v for k, v in members.items() if k not in required},
        )
    if kind == "list":
        return st.lists(strategy(shape.member, depth + 1), max_size=3)
    if kind == "map":
        return st.dictionaries(strategy(shape.key, depth + 1), strategy(shape.value, depth + 1), max_size=3)
    if kind == "string":
        if shape.enum:
            return st.one_of(st.sampled_from(shape.enum), st.sampled_from(["Hibernating", "Pausing", "", "x" * 200]))
        return text
    if kind in ("integer", "long"):
        return big_int
    if kind in ("float", "double"):
        return any_float
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return moment
    if kind == "blob":
        return st.binary(max_size=20)
    return wrong_type


def sometimes_broken(response: st.SearchStrategy) -> st.SearchStrategy:
    """Now and then drop a required member or give one the wrong type."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        data = dict(draw(response))
        if draw(st.integers(0, 9)) == 0:
            victim = draw(st.sampled_from(sorted(OUTPUT.required_members)))
            if draw(st.booleans()):
                data.pop(victim, None)
            else:
                data[victim] = draw(wrong_type)
        return data

    return build()


@st.composite
def responses(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly about the job already stored (so updates are exercised), sometimes about a new one."""
    data = draw(sometimes_broken(strategy(OUTPUT)))
    target = draw(st.sampled_from(["good", "good", "good", "new", "as drawn"]))
    if target == "good":
        data.setdefault("TrainingJobName", GOOD)
        if isinstance(data.get("TrainingJobName"), str):
            data["TrainingJobName"] = GOOD
        if "TrainingJobArn" in data:
            data["TrainingJobArn"] = arn_of(GOOD)
    elif target == "new":
        data["TrainingJobName"] = "fuzz-new-job"
        data["TrainingJobArn"] = arn_of("fuzz-new-job")
    if draw(st.booleans()):
        # Half the time, a response the ordering rule lets through: newer than what is stored.
        data["LastModifiedTime"] = draw(
            st.datetimes(min_value=datetime(2027, 1, 1), max_value=datetime(2029, 1, 1), timezones=st.just(UTC))
        )
    return data


tags_strategy = st.one_of(st.none(), st.dictionaries(text, text, max_size=3))


def snapshot(job: TrainingJob) -> dict[str, Any]:
    row = model_to_dict(job, exclude=["raw", "described_at", "tags_fetched_at", "describe_queued_at"])
    row["transitions"] = list(job.transitions.values_list("status", "start_time", "end_time", "message"))
    row["metrics"] = sorted(job.metrics.values_list("name", "value", "timestamp"))
    row["tag_rows"] = sorted(job.tag_rows.values_list("key", "value"))
    return row


@pytest.fixture
def good_job(db):
    source = make_source()
    job = make_job(GOOD, source=source, LastModifiedTime=T0 + timedelta(hours=2))
    return source, job


EXAMPLES = 200


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(response=responses(), tags=tags_strategy)
def test_any_response_is_stored_or_recorded_and_never_corrupts_a_row(good_job, response, tags):
    source, good = good_job
    with transaction.atomic():
        # Each example is rolled back; read the row afresh, not a copy an earlier example refreshed.
        job = TrainingJob.objects.get(pk=good.pk)
        before = snapshot(job)
        with (
            mock.patch.object(sagemaker, "describe_job", return_value=response),
            mock.patch.object(sagemaker, "list_tags", return_value=tags or {}),
        ):
            result = sync.describe_and_store(source, "asked-for-job", cycle_id=None)

        try:
            parsed = parse_training_job(response)
        except MalformedResponse:
            parsed = None
        errors = list(SyncError.objects.all())
        if result.error:
            assert result.outcome is None
            assert len(errors) == 1, "a failed describe leaves exactly one SyncError"
            assert errors[0].kind == "malformed"
            assert errors[0].job_name in ("asked-for-job", response.get("TrainingJobName"), "")
        else:
            assert parsed is not None, "only a response that parses may be stored"
            assert not errors
            stored = TrainingJob.objects.get(arn=parsed.arn)
            assert stored.status == parsed.status or result.outcome.value == "stale"

        job.refresh_from_db()
        after = snapshot(job)
        if after != before:
            # The stored good job changed: only a valid, not-older response about it may do that.
            assert parsed is not None and parsed.arn == job.arn
            assert parsed.last_modified_time is None or parsed.last_modified_time >= before["last_modified_time"]
            assert after["status"] == parsed.status
            assert after["secondary_status"] == parsed.secondary_status
            assert after["failure_reason"] == parsed.failure_reason
            assert after["instance_count"] == parsed.instance_count
        for value in (job.billable_seconds, job.instance_count, job.reported_billable_seconds):
            assert value is None or 0 <= value < 2**63
        assert all(math.isfinite(v) for v in job.metrics.values_list("value", flat=True))
        transaction.set_rollback(True)


@settings(
    max_examples=EXAMPLES // 2,
    deadline=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(record=responses(), tags=st.one_of(st.none(), st.lists(st.fixed_dictionaries({"Key": text, "Value": text}))))
def test_any_search_record_is_stored_or_left_to_describe_and_never_corrupts_a_row(good_job, record, tags):
    # Search records are as untrusted as describes: the same generator, tags inside.
    source, good = good_job
    if tags is not None:
        record = {**record, "Tags": tags}
    with transaction.atomic():
        job = TrainingJob.objects.get(pk=good.pk)
        before = snapshot(job)
        with mock.patch.object(sagemaker, "search_job_pages", return_value=iter([[record]])):
            found = search_sync.refresh_named(source, [GOOD], cycle_id=None, now=T0 + timedelta(hours=3))
        try:
            parsed = parse_training_job({k: v for k, v in record.items() if k != "Tags"})
        except MalformedResponse:
            parsed = None
        assert not SyncError.objects.exists(), "Search never records: the describe that follows does"
        if parsed is None:
            assert found == {}
        job.refresh_from_db()
        after = snapshot(job)
        if after != before:
            assert parsed is not None and parsed.arn == job.arn
            assert parsed.last_modified_time is None or parsed.last_modified_time >= before["last_modified_time"]
            assert after["status"] == parsed.status
        if found:
            assert set(found) == {GOOD} and parsed is not None and parsed.name == GOOD
        transaction.set_rollback(True)


def test_the_strategy_covers_the_whole_output_shape():
    assert len(OUTPUT.members) >= 50
    example = describe_response("shape-check")
    assert set(example) <= set(OUTPUT.members)


# --- what the fuzzing found, pinned ----------------------------------------------------------


def describe_and_store(source, response, tags=None):
    with (
        mock.patch.object(sagemaker, "describe_job", return_value=response),
        mock.patch.object(sagemaker, "list_tags", return_value=tags or {}),
    ):
        return sync.describe_and_store(source, response.get("TrainingJobName", "?"), cycle_id=None)


@pytest.mark.parametrize(
    "hostile",
    ["nul\x00byte", "lone \ud800 surrogate", "\x00" * 3],
)
def test_text_a_database_refuses_is_stored_cleaned(good_job, hostile):
    # PostgreSQL refuses NUL in text and jsonb; lone surrogates cannot be encoded.
    source, _ = good_job
    response = describe_response(
        "hostile-text",
        status="Failed",
        FailureReason=hostile,
        HyperParameters={hostile: hostile},
        LastModifiedTime=T0 + timedelta(hours=3),
    )
    result = describe_and_store(source, response, tags={hostile: hostile})
    assert result.error == ""
    job = TrainingJob.objects.get(name="hostile-text")
    for text_ in (job.failure_reason, *job.hyperparameters, *job.tags, job.raw["FailureReason"]):
        assert "\x00" not in text_
        text_.encode("utf-8")
    assert job.failure_reason.startswith(hostile.replace("\x00", "\ufffd")[:3])


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("ResourceConfig", "InstanceCount"), -1),
        (("ResourceConfig", "InstanceCount"), 2**31),
        (("ResourceConfig", "VolumeSizeInGB"), 2**63),
        (("StoppingCondition", "MaxRuntimeInSeconds"), -5),
        (("BillableTimeInSeconds",), 10**400),
        (("TrainingJobStatus",), "x" * 10_000),
        (("SecondaryStatus",), "y" * 65),
    ],
)
def test_numbers_and_names_a_column_cannot_hold_are_malformed(good_job, path, value):
    source, job = good_job
    before = snapshot(job)
    response = describe_response(GOOD, LastModifiedTime=T0 + timedelta(hours=5))
    target = response
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    result = describe_and_store(source, response)
    assert "outside" in result.error or "longer than" in result.error
    assert SyncError.objects.get().kind == "malformed"
    job.refresh_from_db()
    assert snapshot(job) == before


def test_instance_groups_adding_up_past_any_real_job_are_malformed(good_job):
    source, _ = good_job
    groups = [{"InstanceGroupName": f"g{i}", "InstanceType": "ml.p4d.24xlarge", "InstanceCount": 90_000} for i in "ab"]
    response = describe_response("too-many", ResourceConfig={"InstanceGroups": groups, "VolumeSizeInGB": 1})
    assert "add up to 180000" in describe_and_store(source, response).error


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 10**400])
def test_a_metric_no_float_column_can_hold_is_left_out(good_job, value):
    source, _ = good_job
    end = T0 + timedelta(hours=2)
    response = describe_response(
        "nan-loss",
        FinalMetricDataList=[
            {"MetricName": "train:loss", "Value": value, "Timestamp": end},
            {"MetricName": "validation:accuracy", "Value": 0.5, "Timestamp": end},
        ],
    )
    assert describe_and_store(source, response).error == ""
    job = TrainingJob.objects.get(name="nan-loss")
    assert list(job.metrics.values_list("name", "value")) == [("validation:accuracy", 0.5)]
    assert isinstance(job.raw["FinalMetricDataList"][0]["Value"], str | int)  # kept, as text, in the raw copy
