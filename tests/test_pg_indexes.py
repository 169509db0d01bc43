"""The PostgreSQL-only indexes: declared in Meta.indexes, real on PostgreSQL, absent (and harmless) on SQLite."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper

from jobs.domain import tuning
from jobs.indexes import PostgreSQLOnly
from jobs.models import Source, TrainingJob
from tests.factories import T0, arn_of

# What the raw SQL of the old migrations 0007 and 0009 created (the statements
# themselves are below): the declarations must build exactly these.
OLD_RAW_SQL = {
    "job_name_trgm_idx": "CREATE INDEX job_name_trgm_idx ON jobs_trainingjob USING gin (UPPER(name) gin_trgm_ops)",
    "job_billable_nulls_last_idx": (
        "CREATE INDEX job_billable_nulls_last_idx ON jobs_trainingjob (billable_seconds DESC NULLS LAST, id DESC)"
    ),
    "job_status_id_idx": "CREATE INDEX job_status_id_idx ON jobs_trainingjob (status, id)",
}
DEFINITIONS = {
    "job_name_trgm_idx": "USING gin (upper((name)::text) gin_trgm_ops)",
    "job_billable_nulls_last_idx": "USING btree (billable_seconds DESC NULLS LAST, id DESC)",
    "job_status_id_idx": "USING btree (status, id)",
    "job_tuning_arn_trgm_idx": "USING gin (tuning_job_arn gin_trgm_ops)",
}
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's indexes")
on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's schema")


def _pg_indexes() -> dict[str, tuple[int, str]]:
    """{name: (oid, definition after the column list's opening)} of the PostgreSQL-only indexes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.oid, pg_get_indexdef(c.oid) FROM pg_class c WHERE c.relname = ANY(%s)",
            [list(DEFINITIONS)],
        )
        return {name: (oid, definition.split(" ON public.jobs_trainingjob ")[1]) for name, oid, definition in cursor}


def test_declared_on_the_model() -> None:
    declared = {index.name for index in TrainingJob._meta.indexes if isinstance(index, PostgreSQLOnly)}
    assert declared == set(DEFINITIONS)


@on_postgresql
@pytest.mark.django_db
def test_postgresql_has_them_as_the_raw_sql_made_them() -> None:
    assert {name: definition for name, (_, definition) in _pg_indexes().items()} == DEFINITIONS


def _plan(queryset) -> str:
    """The plan of ``queryset`` when only a bitmap scan may apply its condition through an index.

    With plain index scans allowed, the planner may walk another index and filter.
    """
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE jobs_trainingjob")  # costs the indexes from the rows, not from an empty table
        for plan_kind in ("seqscan", "indexscan", "indexonlyscan"):
            cursor.execute(f"SET LOCAL enable_{plan_kind} = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor)


def _jobs(count: int, tuning_job_arn=lambda i: "") -> None:
    source = Source.objects.create(name="plan", region="us-east-1")
    TrainingJob.objects.bulk_create(
        TrainingJob(
            source=source,
            arn=arn_of(f"bert-{i}"),
            name=f"bert-{i}",
            status="Completed",
            creation_time=T0,
            tuning_job_arn=tuning_job_arn(i),
        )
        for i in range(count)
    )


@on_postgresql
@pytest.mark.django_db
def test_name_search_can_use_the_trigram_index() -> None:
    # The expression must be the one Django writes for icontains, or the index is never used.
    _jobs(2000)
    assert "job_name_trgm_idx" in _plan(TrainingJob.objects.filter(name__icontains="resnet").values("id"))


@on_postgresql
@pytest.mark.django_db
def test_a_tuning_jobs_trials_are_found_through_the_trigram_index() -> None:
    _jobs(2000, lambda i: f"arn:aws:sagemaker:us-east-1:123:hyper-parameter-tuning-job/hpo-{i // 100}")
    trials = TrainingJob.objects.filter(tuning_job_arn__endswith=tuning.arn_suffix("hpo-7")).values("id")
    assert "job_tuning_arn_trgm_idx" in _plan(trials)
    assert len(trials) == 100


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_database_that_ran_the_old_raw_sql_keeps_its_indexes() -> None:
    try:
        call_command("migrate", "jobs", "0012", verbosity=0)
        assert _pg_indexes() == {}
        with connection.cursor() as cursor:  # what the old 0007 and 0009 did
            for statement in OLD_RAW_SQL.values():
                cursor.execute(statement)
        before = _pg_indexes()
        call_command("migrate", "jobs", verbosity=0)
        after = _pg_indexes()
        assert {name: after[name] for name in OLD_RAW_SQL} == before  # the same indexes (same oids), not rebuilt
    finally:
        call_command("migrate", verbosity=0)  # every app: going back unapplied the alerts app too


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_sqlite_has_none_and_migrates_both_ways() -> None:
    def names() -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
            return {name for (name,) in cursor}

    assert "job_name_idx" in names() and not names() & set(DEFINITIONS)
    try:
        call_command("migrate", "jobs", "0012", verbosity=0)
        call_command("migrate", "jobs", verbosity=0)
    finally:
        call_command("migrate", verbosity=0)  # every app: going back unapplied the alerts app too
    assert not names() & set(DEFINITIONS)


@pytest.mark.django_db  # lets a connection open: its own, in memory
def test_sqlite_builds_the_table_from_its_meta() -> None:
    # SQLite rebuilds a table to alter a column, creating every index in
    # Meta.indexes: a GIN index there would fail any later AlterField.
    settings = {**connection.settings_dict, "ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:", "OPTIONS": {}}
    sqlite = SQLiteWrapper(settings)
    try:
        with sqlite.schema_editor() as editor:
            editor.create_model(Source)
            editor.create_model(TrainingJob)
            old = TrainingJob._meta.get_field("failure_signature")
            new = type(old)(max_length=400, blank=True)
            new.set_attributes_from_name("failure_signature")
            new.model = TrainingJob
            editor.alter_field(TrainingJob, old, new)  # the rebuild
        with sqlite.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
            indexes = {name for (name,) in cursor}
    finally:
        sqlite.close()
    assert {"job_name_idx", "job_billable_idx", "job_gone_idx"} <= indexes
    assert not indexes & set(DEFINITIONS)
