"""The PostgreSQL-only indexes, declared in TrainingJob.Meta.indexes (jobs.indexes).

0007 and 0009 used to create them with raw SQL and now do nothing. This
creates whichever of them is missing, from the declarations and under the
same names, so a database that ran the old 0007/0009 keeps its indexes
rather than building them again. On SQLite it only records them.
"""

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

import jobs.indexes

INDEXES = [
    jobs.indexes.PostgreSQLGinIndex(
        django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper("name"), name="gin_trgm_ops"),
        name="job_name_trgm_idx",
    ),
    jobs.indexes.PostgreSQLIndex(
        models.OrderBy(models.F("billable_seconds"), descending=True, nulls_last=True),
        models.OrderBy(models.F("id"), descending=True),
        name="job_billable_nulls_last_idx",
    ),
    jobs.indexes.PostgreSQLIndex(fields=["status", "id"], name="job_status_id_idx"),
]


class KeepTrigramExtension(TrigramExtension):
    """pg_trgm stays on the way back: something else may use it."""

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        pass


def create_missing(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    model = apps.get_model("jobs", "TrainingJob")
    with schema_editor.connection.cursor() as cursor:
        existing = schema_editor.connection.introspection.get_constraints(cursor, model._meta.db_table)
    for index in INDEXES:
        if index.name not in existing:
            schema_editor.add_index(model, index)


def drop(apps, schema_editor):
    model = apps.get_model("jobs", "TrainingJob")
    for index in INDEXES:
        schema_editor.remove_index(model, index)  # nothing outside PostgreSQL (jobs.indexes)


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0014_statustransition_position_integer"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="trainingjob", index=index) for index in INDEXES],
            database_operations=[KeepTrigramExtension(), migrations.RunPython(create_missing, drop, elidable=False)],
        ),
    ]
