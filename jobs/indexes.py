"""Indexes that exist on PostgreSQL only, declared in ``Meta.indexes`` like the rest.

A pg_trgm GIN index or a ``NULLS LAST`` key order has no SQLite equivalent.
Declared with these classes, the index is part of the models and their
migrations (``makemigrations`` knows it, its name is kept), and any other
database is given no statement for it: neither where a migration adds or
drops it, nor where SQLite rebuilds a table to alter a column (it recreates
every index in ``Meta.indexes`` then, and a GIN index would fail it).
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor


class PostgreSQLOnly:
    """Index SQL on PostgreSQL; an empty statement, which runs as nothing, anywhere else."""

    def create_sql(self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor, **kwargs: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return ""
        return super().create_sql(model, schema_editor, **kwargs)

    def remove_sql(self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor, **kwargs: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return ""
        return super().remove_sql(model, schema_editor, **kwargs)


class PostgreSQLIndex(PostgreSQLOnly, models.Index):
    pass


class PostgreSQLGinIndex(PostgreSQLOnly, GinIndex):
    pass
