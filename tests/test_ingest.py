"""Ordered, idempotent storage of DescribeTrainingJob results."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import ingest
from jobs.domain.parse import parse_summary, parse_training_job
from jobs.models import FinalMetric, StatusTransition, TrainingJob
from tests.factories import T0, arn_of, describe_response, make_job

pytestmark = pytest.mark.django_db


def store(source, raw, tags=None):
    return ingest.store_description(source, parse_training_job(raw), raw, now=timezone.now(), tags=tags)


def running(name="job-1"):
    return describe_response(name, status="InProgress")


def finished(name="job-1"):
    return describe_response(name, status="Completed")


def test_first_store_creates_job_with_transitions_metrics_and_tags(source):
    assert store(source, finished(), tags={"team": "nlp"}) == ingest.Outcome.CREATED
    job = TrainingJob.objects.get(name="job-1")
    assert job.status == "Completed"
    assert job.billable_seconds == 2 * 3600
    assert job.reported_billable_total == 2 * 3600
    assert job.transitions.count() == 3
    assert job.metrics.get(name="validation:accuracy").value == 0.91
    assert job.tags == {"team": "nlp"}
    assert list(job.tag_rows.values_list("key", "value")) == [("team", "nlp")]
    assert job.raw["TrainingJobName"] == "job-1"
    assert "ResponseMetadata" not in job.raw


def test_same_response_twice_is_unchanged(source):
    store(source, finished())
    assert store(source, finished()) == ingest.Outcome.UNCHANGED
    assert StatusTransition.objects.count() == 3
    assert FinalMetric.objects.count() == 2


def test_newer_response_updates_the_job(source):
    store(source, running())
    assert store(source, finished()) == ingest.Outcome.CHANGED
    job = TrainingJob.objects.get()
    assert job.status == "Completed"
    assert [t.status for t in job.transitions.all()] == ["Starting", "Training", "Completed"]


def test_older_response_never_overwrites_a_newer_one(source):
    store(source, finished())
    assert store(source, running()) == ingest.Outcome.STALE
    job = TrainingJob.objects.get()
    assert job.status == "Completed"
    assert job.training_end_time is not None
    assert job.metrics.count() == 2


def test_unknown_status_is_stored_as_sent(source):
    store(source, describe_response("odd-1", TrainingJobStatus="Pausing", SecondaryStatus="Hibernating"))
    job = TrainingJob.objects.get()
    assert (job.status, job.secondary_status) == ("Pausing", "Hibernating")
    assert not job.is_terminal


def test_failure_signature_is_stored(source):
    store(source, describe_response("oom-1", status="Failed"))
    assert TrainingJob.objects.get().failure_signature.startswith("AlgorithmError: RuntimeError: CUDA out of memory")


def test_store_makes_a_constant_number_of_queries(source, django_assert_max_num_queries):
    store(source, running("a"))
    with django_assert_max_num_queries(12):
        store(source, finished("a"), tags={"team": "x"})
    many = finished("b")
    many["SecondaryStatusTransitions"] = many["SecondaryStatusTransitions"] * 1
    many["FinalMetricDataList"] = [{"MetricName": f"m{i}", "Value": float(i), "Timestamp": T0} for i in range(40)]
    with django_assert_max_num_queries(12):
        store(source, many, tags={f"k{i}": "v" for i in range(50)})


def test_summaries_create_stubs_and_move_last_modified_forward_only(source, django_assert_num_queries):
    def summary(name, modified, status="InProgress"):
        return parse_summary(
            {
                "TrainingJobName": name,
                "TrainingJobArn": arn_of(name),
                "CreationTime": T0,
                "TrainingJobStatus": status,
                "SecondaryStatus": "Training",
                "LastModifiedTime": modified,
            }
        )

    with django_assert_num_queries(2):
        assert ingest.upsert_summaries(source, [summary(f"s{i}", T0) for i in range(20)]) == 20
    assert TrainingJob.objects.count() == 20
    assert ingest.upsert_summaries(source, [summary("s1", T0 + timedelta(minutes=1), "Completed")]) == 1
    assert ingest.upsert_summaries(source, [summary("s1", T0, "InProgress")]) == 0
    assert TrainingJob.objects.get(name="s1").status == "Completed"


def test_needing_describe_covers_new_changed_and_running_only(source):
    make_job("done", status="Completed")
    make_job("busy", status="InProgress")
    changed = make_job("changed", status="Completed")
    TrainingJob.objects.filter(pk=changed.pk).update(
        last_modified_time=changed.last_modified_time + timedelta(seconds=1)
    )
    TrainingJob.objects.create(source=source, arn=arn_of("new"), name="new", status="InProgress", creation_time=T0)
    assert set(TrainingJob.objects.needing_describe().values_list("name", flat=True)) == {"busy", "changed", "new"}


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_stores_of_one_job_leave_one_consistent_row(source):
    responses = [running("race-1"), finished("race-1")] * 3
    errors = []
    barrier = threading.Barrier(len(responses))

    def worker(raw):
        from django.db import connections

        try:
            barrier.wait()
            store(source, raw)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(raw,)) for raw in responses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    job = TrainingJob.objects.get(name="race-1")
    assert job.status == "Completed"
    assert [t.status for t in job.transitions.all()] == ["Starting", "Training", "Completed"]
    assert job.metrics.count() == 2
