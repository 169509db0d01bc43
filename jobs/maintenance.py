"""Database upkeep the query planner depends on."""

from __future__ import annotations

from django.db import connection


def optimize_database() -> None:
    """Refresh SQLite's planner statistics; PostgreSQL's autovacuum does its own.

    Without statistics SQLite guesses that an equality on any index matches a
    handful of rows, so with 100,000 jobs it walks ``source_id`` over every
    job where the sync's due query and the pages' filters would search small
    indexes. ``analysis_limit`` samples each index, so this takes
    milliseconds whatever the size.
    """
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA analysis_limit=1000")
        cursor.execute("ANALYZE")
