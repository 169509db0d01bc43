"""Ordered, idempotent storage of DescribeTrainingJob results."""

import math
import re
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
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


def test_raw_json_is_stored_as_the_cleaned_response_serialised(source):
    raw = finished("hostile")
    raw.update(FailureReason="nul\x00byte \ud800 🚀", HyperParameters={"k\x00": "v\x00"}, ResponseMetadata={"x": 1})
    raw["FinalMetricDataList"][0]["Value"] = float("nan")
    store(source, raw)
    expected = ingest._jsonable(raw)
    job = TrainingJob.objects.get()
    assert job.raw == expected
    if connection.vendor == "sqlite":
        # Byte for byte what Django's JSONField wrote when handed the cleaned dict.
        with connection.cursor() as cursor:
            cursor.execute("SELECT raw FROM jobs_trainingjob WHERE id = %s", [job.id])
            assert cursor.fetchone()[0] == TrainingJob._meta.get_field("raw").get_db_prep_save(expected, connection)
    # Unchanged on a second store: the stored copy compares equal to the new text.
    assert store(source, raw) == ingest.Outcome.UNCHANGED


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
    # 12, and one for the alerts decision (alerts.decide): a finished job reads the active rules.
    with django_assert_max_num_queries(13):
        store(source, finished("a"), tags={"team": "x"})
    many = finished("b")
    many["SecondaryStatusTransitions"] = many["SecondaryStatusTransitions"] * 1
    many["FinalMetricDataList"] = [{"MetricName": f"m{i}", "Value": float(i), "Timestamp": T0} for i in range(40)]
    with django_assert_max_num_queries(13):
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

    # A locked read, the stubs' insert and their JobChange rows; the other four
    # open and release the savepoints of the transaction and of the insert.
    with django_assert_num_queries(7):
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
    race(lambda raw: store(source, raw), [running("race-1"), finished("race-1")] * 3)
    job = TrainingJob.objects.get(name="race-1")
    assert job.status == "Completed"
    assert [t.status for t in job.transitions.all()] == ["Starting", "Training", "Completed"]
    assert job.metrics.count() == 2


def described(raw, tags=None):
    return ingest.Description(parse_training_job(raw), raw, tags)


def store_many(source, *items):
    return ingest.store_descriptions(source, list(items), now=timezone.now())


def test_batch_stores_new_changed_stale_and_duplicate_arns_in_order(source):
    store(source, running("was-running"))
    store(source, finished("was-done"), tags={"team": "nlp"})
    outcomes = store_many(
        source,
        described(running("new-1"), tags={"team": "cv"}),
        described(finished("was-running")),
        described(running("was-done")),  # older than what is stored
        described(finished("twice")),
        described(running("twice"), tags={"team": "a"}),  # older than the response before it
        described(finished("same-twice")),
        described(finished("same-twice")),
    )
    assert outcomes == [
        ingest.Outcome.CREATED,
        ingest.Outcome.CHANGED,
        ingest.Outcome.STALE,
        ingest.Outcome.CREATED,
        ingest.Outcome.STALE,
        ingest.Outcome.UNCHANGED,
        ingest.Outcome.CREATED,
    ]
    jobs = {job.name: job for job in TrainingJob.objects.all()}
    assert set(jobs) == {"new-1", "was-running", "was-done", "twice", "same-twice"}
    assert jobs["new-1"].status == "InProgress" and jobs["new-1"].tags == {"team": "cv"}
    assert jobs["was-running"].status == "Completed"
    assert [t.status for t in jobs["was-running"].transitions.all()] == ["Starting", "Training", "Completed"]
    assert jobs["was-done"].status == "Completed" and jobs["was-done"].metrics.count() == 2
    # The newest response wins; the tags read with the older one still count.
    assert jobs["twice"].status == "Completed" and jobs["twice"].training_end_time is not None
    assert jobs["twice"].tags == {"team": "a"}
    assert list(jobs["twice"].tag_rows.values_list("key", "value")) == [("team", "a")]
    assert jobs["same-twice"].transitions.count() == 3


def test_unchanged_batch_writes_no_child_rows_and_not_the_raw_json(source):
    names = [f"job-{i}" for i in range(5)]
    store_many(source, *(described(running(n), tags={"team": "x"}) for n in names))
    before = dict(TrainingJob.objects.values_list("name", "described_at"))
    with CaptureQueriesContext(connection) as queries:
        outcomes = store_many(source, *(described(running(n)) for n in names))
    assert outcomes == [ingest.Outcome.UNCHANGED] * 5
    # An executemany is logged as "<n> times: <sql>".
    statements = [re.sub(r"^\d+ times: ", "", q["sql"]) for q in queries]
    writes = [sql for sql in statements if sql.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert len(writes) == 1, writes
    # The one write marks the describe (what needing_describe and not_queued_since read), nothing more.
    written = writes[0].split("DO UPDATE SET")[-1]  # an upsert: only its SET columns are written
    assert "jobs_trainingjob" in writes[0] and '"raw"' not in written and '"tags"' not in written
    for name, described_at in TrainingJob.objects.values_list("name", "described_at"):
        assert described_at > before[name]


def test_an_empty_metric_list_and_unfetched_tags_keep_what_is_stored(source):
    store(source, finished("kept"), tags={"team": "nlp"})
    trimmed = finished("kept")
    trimmed["FinalMetricDataList"] = []
    trimmed["LastModifiedTime"] += timedelta(minutes=1)
    assert store_many(source, described(trimmed)) == [ingest.Outcome.UNCHANGED]
    job = TrainingJob.objects.get()
    assert job.metrics.count() == 2
    assert job.tags == {"team": "nlp"} and job.tag_rows.count() == 1
    assert job.described_last_modified_time == trimmed["LastModifiedTime"]


def test_a_batch_makes_the_same_queries_whatever_its_size(source):
    def counted(items):
        with CaptureQueriesContext(connection) as queries:
            store_many(source, *items)
        return len(queries)

    def phases(size):
        names = [f"{size}-{i}" for i in range(size)]
        return (
            counted([described(running(n), tags={"k": "v"}) for n in names]),  # new
            counted([described(finished(n), tags={"k": "w"}) for n in names]),  # everything changed
            counted([described(finished(n)) for n in names]),  # unchanged
        )

    one = phases(1)
    assert phases(10) == one
    assert phases(20) == one  # the describe chunk
    # Larger, only Django adds statements: it splits a bulk write of job rows
    # where the backend caps the parameters of one query (SQLite, 999).
    columns = [f for f in TrainingJob._meta.concrete_fields if not f.primary_key]
    extra = math.ceil(50 / connection.ops.bulk_batch_size(columns, [None] * 50)) - 1
    assert phases(50) == (one[0] + extra, one[1] + extra, one[2] + extra)
    assert one[1] <= 13  # one of them the alerts decision reading the active rules


def test_needing_tags_reads_every_arn_in_one_query(source, django_assert_num_queries):
    store(source, finished("tagged"), tags={"team": "x"})
    store(source, finished("untagged"))
    parsed = [parse_training_job(r) for r in (finished("tagged"), finished("untagged"), finished("unknown"))]
    changed = parse_training_job({**finished("tagged"), "LastModifiedTime": T0 + timedelta(days=1)})
    with django_assert_num_queries(1):
        due = ingest.needing_tags([*parsed, changed])
    assert due == {arn_of("untagged"), arn_of("unknown"), arn_of("tagged")}
    with django_assert_num_queries(1):
        assert ingest.needing_tags(parsed[:1]) == set()


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_sharing_jobs_leave_consistent_rows(source):
    """Overlapping batches in different orders: rows locked in ARN order, no deadlock, no lost write."""
    names = [f"race-{i}" for i in range(6)]
    batches = []
    for k in range(6):
        order = names if k % 2 else list(reversed(names))
        batches.append([(running(n) if k < 3 else finished(n)) for n in order])
    race(lambda responses: store_many(source, *(described(r, tags={"team": "x"}) for r in responses)), batches)
    assert TrainingJob.objects.count() == 6
    for job in TrainingJob.objects.all():
        assert job.status == "Completed"
        assert [t.status for t in job.transitions.all()] == ["Starting", "Training", "Completed"]
        assert job.metrics.count() == 2
        assert list(job.tag_rows.values_list("key", "value")) == [("team", "x")]


def race(task, arguments) -> None:
    """Run ``task(argument)`` for every argument at once, one thread each, released together; none may raise."""
    from django.db import connections

    errors = []
    barrier = threading.Barrier(len(arguments))

    def worker(argument):
        try:
            barrier.wait()
            task(argument)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(argument,)) for argument in arguments]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_every_parsed_member_is_stored_in_the_column_named_like_it(source):
    columns = {f.name for f in TrainingJob._meta.concrete_fields}
    # The columns a describe fills from elsewhere, or that belong to the sync.
    bookkeeping = {
        "id",
        "source",
        "arn",
        "last_modified_time",
        "raw",
        "tags",
        "described_at",
        "described_last_modified_time",
        "tags_fetched_at",
        "describe_queued_at",
        # The sync counts describes that found no job (jobs.sync.mark_not_found); a describe resets them.
        "not_found_count",
        "gone_at",
    }
    # AWS's billing figures come from the parse like any other member.
    assert {"reported_billable_seconds", "warm_pool_retained_seconds"} <= set(ingest.COPIED_FIELDS)
    assert set(ingest.COPIED_FIELDS) | set(ingest.DERIVED_FIELDS) | bookkeeping == columns
    raw = finished("mapped")
    parsed = parse_training_job(raw)
    store(source, raw)
    job = TrainingJob.objects.get()
    for name in ingest.COPIED_FIELDS:
        assert getattr(job, name) == getattr(parsed, name), name


def test_a_new_read_rewrites_the_transitions_from_the_first_changed_step_only(source):
    store(source, running())
    first = StatusTransition.objects.get(position=0)
    training = StatusTransition.objects.get(position=1)
    assert store(source, finished()) == ingest.Outcome.CHANGED
    rows = list(StatusTransition.objects.order_by("position"))
    assert [(t.position, t.status) for t in rows] == [(0, "Starting"), (1, "Training"), (2, "Completed")]
    # The step that did not change is the same row; the one that gained its end was rewritten.
    assert rows[0].pk == first.pk and rows[0].end_time == first.end_time
    assert rows[1].pk != training.pk and training.end_time is None and rows[1].end_time is not None


def test_a_step_read_late_is_merged_into_its_place(source):
    store(source, finished())
    raw = finished()
    late = {"Status": "Downloading", "StartTime": T0 + timedelta(minutes=1), "EndTime": T0 + timedelta(minutes=2)}
    raw["SecondaryStatusTransitions"].insert(1, late)
    raw["LastModifiedTime"] += timedelta(seconds=1)
    assert store(source, raw) == ingest.Outcome.CHANGED
    statuses = list(StatusTransition.objects.order_by("position").values_list("position", "status"))
    assert statuses == [(0, "Starting"), (1, "Downloading"), (2, "Training"), (3, "Completed")]


def test_a_describe_with_more_transitions_than_a_small_integer_holds_is_stored_whole(source):
    # 40,000 steps (a job restarted for weeks): positions past 32,767, which
    # PostgreSQL's smallint refused, so the whole batch failed every cycle.
    raw = running("restarted")
    steps = [
        {"Status": "Training", "StartTime": T0 + timedelta(seconds=i), "EndTime": T0 + timedelta(seconds=i + 1)}
        for i in range(40_000)
    ]
    raw["SecondaryStatusTransitions"] = steps
    assert store(source, raw) == ingest.Outcome.CREATED
    job = TrainingJob.objects.get()
    assert job.transitions.count() == 40_000
    assert job.transitions.order_by("-position").values_list("position", flat=True)[0] == 39_999
    # Stored again unchanged: nothing to rewrite, and no error.
    assert store(source, raw) == ingest.Outcome.UNCHANGED
