"""bench.generate: the simulated account's jobs, stored as the sync stores them."""

from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from bench.generate import Generator, _index_definitions, bulk_store, indexes_built_after
from jobs import ingest
from jobs.domain.parse import parse_training_job
from jobs.models import FinalMetric, JobChange, JobTag, StatusTransition, TrainingJob

pytestmark = pytest.mark.django_db

JOBS = 1200
RUNNING = 40
# Old and new jobs, the long spot job (index 500 of every 1,000) and the newest, still running.
INDICES = [*range(0, 30), *range(495, 505), *range(JOBS - 60, JOBS)]


def stored_rows() -> dict[str, list]:
    """Everything a job's rows hold, by ARN, without the database's own ids."""
    job_fields = [f.attname for f in TrainingJob._meta.concrete_fields if not f.primary_key]
    change_fields = [f.attname for f in JobChange._meta.concrete_fields if f.name not in ("id", "job")]
    return {
        "jobs": list(TrainingJob.objects.order_by("arn").values_list(*job_fields)),
        "transitions": list(
            StatusTransition.objects.order_by("job__arn", "position").values_list(
                "job__arn", "position", "status", "start_time", "end_time", "message"
            )
        ),
        "metrics": list(
            FinalMetric.objects.order_by("job__arn", "name").values_list("job__arn", "name", "value", "timestamp")
        ),
        "tags": list(JobTag.objects.order_by("job__arn", "key").values_list("job__arn", "key", "value")),
        "changes": list(JobChange.objects.order_by("job__arn").values_list("job__arn", *change_fields)),
    }


@pytest.fixture
def generated():
    now = timezone.now().replace(microsecond=0)
    generator = Generator(JOBS, seed=3, now=now, days=30, running=RUNNING)
    return now, [generator.response(i) for i in INDICES]


def test_bulk_rows_are_what_the_sync_stores(source, generated):
    now, items = generated
    counts = bulk_store(source, items, now=now, batch=25)
    bulk = stored_rows()
    assert counts["jobs"] == len(INDICES) == len(bulk["jobs"])
    assert counts["transitions"] == len(bulk["transitions"])
    assert counts["changes"] == len(bulk["changes"]) == len(INDICES)

    TrainingJob.objects.all().delete()
    descriptions = [ingest.Description(parse_training_job(raw), raw, tags) for raw, tags in items]
    ingest.store_descriptions(source, descriptions, now=now)
    assert stored_rows() == bulk


def test_jobs_come_from_the_simulated_account(source, generated):
    now, items = generated
    bulk_store(source, items, now=now)
    per_job = Counter(StatusTransition.objects.values_list("job__name", flat=True))
    long_haul = items[INDICES.index(500)][0]["TrainingJobName"]
    assert per_job[long_haul] == 50
    assert TrainingJob.objects.get(name=long_haul).is_spot
    newest = TrainingJob.objects.filter(name__in=[raw["TrainingJobName"] for raw, _ in items[-RUNNING:]])
    assert set(newest.values_list("status", flat=True)) <= {"InProgress", "Stopping"}
    assert all(t <= now for t in TrainingJob.objects.values_list("last_modified_time", flat=True))
    assert TrainingJob.objects.filter(tags__has_key="team").count() == len(INDICES)


def test_ids_continue_and_the_orm_inserts_after_a_bulk_load(source, generated):
    now, items = generated
    bulk_store(source, items[:10], now=now)
    bulk_store(source, items[10:20], now=now)
    assert sorted(TrainingJob.objects.values_list("id", flat=True)) == list(range(1, 21))
    # Sequences were reset: the sync's own inserts do not collide with the generated ids.
    raw, tags = items[20]
    assert ingest.store_description(source, parse_training_job(raw), raw, now=now, tags=tags).is_change
    assert TrainingJob.objects.count() == 21


def test_indexes_are_rebuilt_as_the_migrations_made_them(source, generated):
    now, items = generated
    before = _index_definitions()
    assert any(kind == "index" for kind, _, _ in before)
    with indexes_built_after():
        assert not [d for d in _index_definitions() if d[0] == "index"]
        bulk_store(source, items, now=now)
    assert _index_definitions() == before
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA integrity_check")
            assert cursor.fetchone() == ("ok",)
