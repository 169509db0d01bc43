"""Two PostgreSQL-only indexes; on SQLite this migration does nothing.

- ``job_name_trgm_idx``: name search (``?q=``) is ``name__icontains``,
  which Django writes as ``UPPER(name::text) LIKE UPPER('%x%')``; no B-tree
  serves it, so PostgreSQL read every row (140-180 ms at 100,000 jobs). A
  pg_trgm GIN index on that same expression does. (SQLite reads the name
  index instead, ~20 ms; an FTS5 trigram table measured slower than that
  for common terms, so SQLite has none.)
- ``job_billable_nulls_last_idx``: the billable sort is ``billable_seconds
  DESC NULLS LAST, id DESC``. ``job_billable_idx`` is declared portably, so
  on PostgreSQL it is ``DESC`` with nulls first and cannot give that order:
  the sort read all 100,000 rows (~200 ms). SQLite has no null order in
  CREATE INDEX and already walks ``job_billable_idx``.
"""

from django.db import migrations

INDEXES = {
    "job_name_trgm_idx": "USING gin (UPPER(name) gin_trgm_ops)",
    "job_billable_nulls_last_idx": "(billable_seconds DESC NULLS LAST, id DESC)",
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # A trusted extension since PostgreSQL 13: the database owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON jobs_trainingjob {definition}")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm stays: something else may use it.
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0006_job_creation_id_index"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
