"""jobs.sync's describe chunks, with SageMaker patched at our own wrapper."""

from unittest import mock

import pytest
from django.db import DataError

from jobs import ingest, sagemaker, sync
from jobs.models import SyncCycle, SyncError, TrainingJob
from tests.factories import describe_response

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("describe_only")]


def throttled(name):
    return sagemaker.SageMakerError(f"{name}: Rate exceeded", code="ThrottlingException", retryable=True)


@pytest.fixture
def aws():
    """describe_job answers from ``responses`` (an exception is raised); tags are {"team": "x"}."""
    responses = {}

    def describe(config, name):
        answer = responses[name]
        if isinstance(answer, Exception):
            raise answer
        return answer

    with (
        mock.patch.object(sagemaker, "describe_job", side_effect=describe),
        mock.patch.object(sagemaker, "list_tags", return_value={"team": "x"}),
    ):
        yield responses


def test_a_chunk_stores_the_good_ones_records_the_bad_and_keeps_the_retryable(source, aws):
    aws["good"] = describe_response("good")
    aws["broken"] = {**describe_response("broken"), "CreationTime": "yesterday"}
    aws["throttled"] = throttled("throttled")
    aws["gone"] = sagemaker.NotFound("gone: not found", code="ValidationException")
    cycle = SyncCycle.objects.create(source=source)

    chunk = sync.describe_chunk(source, ["good", "broken", "throttled", "gone"], cycle_id=cycle.pk, keep_retryable=True)

    assert list(chunk.retry) == ["throttled"]
    assert chunk.results["good"].outcome == ingest.Outcome.CREATED
    assert chunk.results["broken"].outcome is None and "CreationTime" in chunk.results["broken"].error
    assert chunk.results["gone"].outcome is None
    assert list(TrainingJob.objects.values_list("name", flat=True)) == ["good"]
    assert sorted(SyncError.objects.values_list("job_name", "kind")) == [("broken", "malformed"), ("gone", "aws")]
    cycle.refresh_from_db()
    assert (cycle.described, cycle.changed, cycle.errors) == (1, 1, 2)


def test_without_keep_retryable_a_throttled_describe_is_recorded(source, aws):
    aws["throttled"] = throttled("throttled")
    chunk = sync.describe_chunk(source, ["throttled"], cycle_id=None)
    assert chunk.retry == {}
    assert chunk.results["throttled"].error
    assert SyncError.objects.get().kind == "throttled"


def test_a_malformed_response_leaves_the_stored_row_untouched(source, aws):
    aws["job"] = describe_response("job")
    sync.describe_chunk(source, ["job"], cycle_id=None)
    before = TrainingJob.objects.values().get()
    aws["job"] = {**describe_response("job", status="Failed"), "ResourceConfig": {"InstanceCount": -1}}
    assert sync.describe_chunk(source, ["job"], cycle_id=None).results["job"].error
    assert TrainingJob.objects.values().get() == before


def test_tags_are_read_only_for_jobs_that_need_them(source, aws):
    aws["a"] = describe_response("a")
    aws["b"] = describe_response("b")
    sync.describe_chunk(source, ["a"], cycle_id=None)
    sync.describe_chunk(source, ["a", "b"], cycle_id=None)
    assert [c.args[1] for c in sagemaker.list_tags.call_args_list] == [
        TrainingJob.objects.get(name="a").arn,
        TrainingJob.objects.get(name="b").arn,
    ]


def test_the_inline_cycle_stores_each_chunk_in_one_call(source, aws, monkeypatch):
    names = [f"job-{i}" for i in range(7)]
    for name in names:
        aws[name] = describe_response(name)
    monkeypatch.setattr(sync, "DESCRIBE_CHUNK", 3)
    stored = mock.Mock(wraps=ingest.store_descriptions)
    monkeypatch.setattr(ingest, "store_descriptions", stored)
    cycle = SyncCycle.objects.create(source=source)
    said = []
    sync._describe_inline(source, cycle, names, said.append)
    assert [len(c.args[1]) for c in stored.call_args_list] == [3, 3, 1]
    cycle.refresh_from_db()
    assert (cycle.described, cycle.changed) == (7, 7)
    assert TrainingJob.objects.count() == 7


def test_a_row_the_database_refuses_costs_only_that_job(source, aws, monkeypatch):
    names = ["a", "poison", "b"]
    for name in names:
        aws[name] = describe_response(name)
    sync.describe_chunk(source, ["poison"], cycle_id=None)
    before = TrainingJob.objects.values().get(name="poison")
    aws["poison"] = describe_response("poison", status="Failed")
    real = ingest.store_descriptions

    def refuse_poison(source, items, *, now):
        if any(item.parsed.name == "poison" for item in items):
            raise DataError("value too long for type character varying(63)")
        return real(source, items, now=now)

    monkeypatch.setattr(ingest, "store_descriptions", refuse_poison)
    cycle = SyncCycle.objects.create(source=source)

    chunk = sync.describe_chunk(source, names, cycle_id=cycle.pk)

    assert chunk.results["a"].outcome == chunk.results["b"].outcome == ingest.Outcome.CREATED
    assert chunk.results["poison"].outcome is None and chunk.results["poison"].error
    assert TrainingJob.objects.values().get(name="poison") == before
    assert SyncError.objects.get().job_name == "poison" and SyncError.objects.get().kind == "unexpected"
    cycle.refresh_from_db()
    assert (cycle.described, cycle.errors) == (2, 1)
