"""The ingest outbox: a JobChange row for every job a store creates or whose status it moves."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from jobs import ingest, maintenance
from jobs.domain.parse import parse_summary, parse_training_job
from jobs.models import JobChange, TrainingJob
from tests.factories import T0, arn_of, describe_response
from tests.test_ingest import race

pytestmark = pytest.mark.django_db


def store(source, raw, now=None):
    return ingest.store_description(source, parse_training_job(raw), raw, now=now or timezone.now())


def running(name="job-1", **overrides):
    return describe_response(name, status="InProgress", **overrides)


def finished(name="job-1"):
    return describe_response(name, status="Completed")


def changes(name="job-1"):
    return [
        (c.is_new, c.old_status, c.new_status, c.old_secondary_status, c.new_secondary_status)
        for c in JobChange.objects.filter(job__name=name)
    ]


def summary(name, modified, status="InProgress", secondary="Training"):
    return parse_summary(
        {
            "TrainingJobName": name,
            "TrainingJobArn": arn_of(name),
            "CreationTime": T0,
            "TrainingJobStatus": status,
            "SecondaryStatus": secondary,
            "LastModifiedTime": modified,
        }
    )


def test_a_new_job_and_each_status_move_are_recorded_and_an_unchanged_describe_is_not(source):
    now = T0 + timedelta(hours=3)
    store(source, running(), now=now)
    store(source, running(), now=now)  # unchanged
    store(source, finished(), now=now)
    assert changes() == [
        (True, "", "InProgress", "", "Training"),
        (False, "InProgress", "Completed", "Training", "Completed"),
    ]
    first, moved = JobChange.objects.all()
    job = TrainingJob.objects.get()
    assert (first.job, first.source, first.created_at) == (job, source, now)
    assert moved.last_modified_time == finished()["LastModifiedTime"]


def test_a_secondary_status_move_alone_is_recorded(source):
    store(source, running())
    later = running(SecondaryStatus="Uploading")
    later["LastModifiedTime"] += timedelta(minutes=1)
    assert store(source, later) == ingest.Outcome.CHANGED
    assert changes()[-1] == (False, "InProgress", "InProgress", "Training", "Uploading")


def test_a_change_that_leaves_the_statuses_records_nothing(source):
    store(source, finished())
    later = finished()
    later["LastModifiedTime"] += timedelta(minutes=1)
    later["FailureReason"] = "edited"
    assert store(source, later) == ingest.Outcome.CHANGED
    assert len(changes()) == 1


def test_an_older_response_records_nothing(source):
    store(source, finished())
    assert store(source, running()) == ingest.Outcome.STALE
    assert changes() == [(True, "", "Completed", "", "Completed")]


def test_a_batch_records_one_change_per_job_from_the_newest_response(source):
    items = [ingest.Description(parse_training_job(r), r) for r in (running("a"), finished("a"), running("b"))]
    ingest.store_descriptions(source, items, now=timezone.now())
    assert changes("a") == [(True, "", "Completed", "", "Completed")]
    assert changes("b") == [(True, "", "InProgress", "", "Training")]


def test_a_listing_records_new_jobs_and_the_statuses_it_moves_and_not_older_ones(source):
    assert ingest.upsert_summaries(source, [summary("listed", T0)]) == 1
    assert changes("listed") == [(True, "", "InProgress", "", "Training")]
    later = T0 + timedelta(minutes=5)
    assert ingest.upsert_summaries(source, [summary("listed", later, "Stopping", "Stopping")]) == 1
    assert ingest.upsert_summaries(source, [summary("listed", T0, "InProgress")]) == 0  # older
    # Newer but the same statuses: last_modified_time moves, nothing recorded.
    assert ingest.upsert_summaries(source, [summary("listed", later + timedelta(minutes=1), "Stopping", "Stopping")])
    assert changes("listed") == [
        (True, "", "InProgress", "", "Training"),
        (False, "InProgress", "Stopping", "Training", "Stopping"),
    ]
    job = TrainingJob.objects.get(name="listed")
    assert (job.status, job.last_modified_time) == ("Stopping", later + timedelta(minutes=1))


def test_a_describe_after_the_listing_moved_the_status_records_nothing_more(source):
    store(source, running())
    ingest.upsert_summaries(source, [summary("job-1", T0 + timedelta(hours=2), "Completed", "Completed")])
    store(source, finished())
    assert changes() == [
        (True, "", "InProgress", "", "Training"),
        (False, "InProgress", "Completed", "Training", "Completed"),
    ]


def test_a_store_rolled_back_leaves_no_change(source):
    with pytest.raises(RuntimeError), transaction.atomic():
        store(source, running())
        raise RuntimeError("the caller's transaction fails after the store")
    assert not JobChange.objects.exists() and not TrainingJob.objects.exists()


def test_the_hourly_prune_deletes_only_the_changes_older_than_the_retention(source):
    now = T0 + timedelta(days=30)
    store(source, running(), now=now - timedelta(days=8))
    store(source, finished(), now=now - timedelta(days=1))
    assert maintenance.prune_history(now, days=7)["job changes"] == 1
    assert changes() == [(False, "InProgress", "Completed", "Training", "Completed")]
    assert maintenance.prune_history(now, days=7)["job changes"] == 0


def _race(source, responses):
    race(lambda raw: store(source, raw), responses)


@pytest.mark.django_db(transaction=True)
def test_workers_creating_the_same_job_record_it_once(source):
    _race(source, [running("race-new")] * 4)
    assert changes("race-new") == [(True, "", "InProgress", "", "Training")]


@pytest.mark.django_db(transaction=True)
def test_workers_storing_the_same_status_move_record_it_once(source):
    store(source, running("race-move"))
    _race(source, [finished("race-move")] * 4)
    assert changes("race-move") == [
        (True, "", "InProgress", "", "Training"),
        (False, "InProgress", "Completed", "Training", "Completed"),
    ]


@pytest.mark.django_db(transaction=True)
def test_workers_storing_old_and_new_responses_record_each_move_once_in_order(source):
    _race(source, [running("race-mixed"), finished("race-mixed")] * 3)
    recorded = changes("race-mixed")
    # Whichever came first created the job; the finish is recorded once, and
    # a running response after it is stale and records nothing.
    assert recorded in (
        [(True, "", "Completed", "", "Completed")],
        [(True, "", "InProgress", "", "Training"), (False, "InProgress", "Completed", "Training", "Completed")],
    )
    assert TrainingJob.objects.get(name="race-mixed").status == "Completed"
