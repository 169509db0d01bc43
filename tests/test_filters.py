"""jobs.filters: the count form of a filter, and the indexes the filters rely on."""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import QueryDict

from jobs.filters import JobFilter
from tests.factories import make_job, make_source

QUERIES = [
    "tag=team%3Dnlp&status=Failed",
    "tag=team&status=Completed",
    "tag=owner&instance_type=ml.p3.2xlarge",
    "tag=team%3Dvision&q=vision",
    "tag=team%3Dnobody&status=Failed",
    "tag=team%3Dnlp&source=other",
    "q=NLP",
    "status=Failed",
    "",
]


@pytest.fixture
def jobs(db):
    other = make_source("other")
    make_job("nlp-1", tags={"team": "nlp"})
    make_job("nlp-2", status="Failed", tags={"team": "nlp", "owner": "ana"})
    make_job("nlp-3", status="Failed", source=other, tags={"team": "nlp"})
    make_job("vision-1", tags={"team": "vision", "owner": "bo"})
    make_job("vision-2", status="Failed", tags={"team": "vision"})
    make_job("untagged-1", status="Failed", tags={})


@pytest.mark.parametrize("query", QUERIES)
def test_counted_has_the_rows_of_apply(jobs, query):
    flt = JobFilter.from_query(QueryDict(query))
    listed = set(flt.apply().values_list("pk", flat=True))
    assert set(flt.counted().values_list("pk", flat=True)) == listed
    assert flt.counted().count() == len(listed)


def test_tag_with_status_is_counted_from_the_tag_ids(jobs):
    flt = JobFilter.from_query(QueryDict("tag=team%3Dnlp&status=Failed"))
    sql = str(flt.counted().query)
    assert "EXISTS" not in sql
    # SQLite walks the status index and tests each id against the tag's list
    # instead of fetching every tagged job's row by id.
    if connection.vendor == "sqlite":
        assert '+"jobs_trainingjob"."id" IN' in sql
    assert flt.counted().count() == 2


def _indexes(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, table))


def test_postgresql_only_indexes(db):
    """The indexes declared for PostgreSQL alone (jobs.indexes) exist there and not on SQLite."""
    names = _indexes("jobs_trainingjob")
    expected = {"job_name_trgm_idx", "job_billable_nulls_last_idx", "job_status_id_idx"}
    if connection.vendor == "postgresql":
        assert expected <= names
    else:
        assert not expected & names


def test_tag_index_carries_the_job_id(db):
    constraints = {}
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "jobs_jobtag")
    assert constraints["tag_key_value_job_idx"]["columns"] == ["key", "value", "job_id"]
    assert "tag_key_value_idx" not in constraints
