"""Bad input in the query string: a 400 or a sane default, never a 500 (issue 9, "Bad input").

Several of these only failed on PostgreSQL (NUL) or only on SQLite (a long
LIKE pattern, an id past its integer): run this file on both databases.
"""

from __future__ import annotations

from dataclasses import fields

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from jobs.filters import MAX_Q_LENGTH, JobFilter, tag_param
from tests.factories import make_job, make_source

FILTER_PARAMS = [f.name for f in fields(JobFilter)]
LISTS = ["/", "/api/jobs/"]


@pytest.fixture
def job(db):
    return make_job(name="resnet-1", tags={"team": "vision"})


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("param", [*FILTER_PARAMS, "page", "page_size", "unknown"])
def test_a_nul_in_any_list_parameter_is_a_400(logged_in: Client, job, path, param):
    response = logged_in.get(path, {param: "a\x00b"})
    assert response.status_code == 400
    assert param.encode() in response.content


@pytest.mark.parametrize("path", LISTS)
def test_a_nul_in_a_parameter_name_is_a_400(logged_in: Client, job, path):
    assert logged_in.get(path + "?st%00atus=Completed").status_code == 400


def test_the_api_says_which_parameter_holds_the_nul(logged_in: Client, job):
    response = logged_in.get("/api/jobs/", {"tag": "team=\x00"})
    assert response.status_code == 400
    assert response.json() == {"tag": ["The parameter 'tag' contains a NUL character."]}


@pytest.mark.parametrize("param", ["ids", "metric", "unknown"])
def test_a_nul_in_the_rows_endpoint_is_a_400(logged_in: Client, job, param):
    response = logged_in.get("/jobs/rows/", {"ids": str(job.pk), param: f"{job.pk}\x00"})
    assert response.status_code == 400
    assert "NUL" in response.json()["error"]


@pytest.mark.parametrize(
    ("path", "param"), [("/failures/", "q"), ("/status/", "every"), ("/status/fragment/", "every")]
)
def test_pages_without_filters_ignore_a_nul(logged_in: Client, job, path, param):
    assert logged_in.get(path, {param: "1\x00"}).status_code == 200


@pytest.mark.parametrize("ids", ["99999999999999999999", "9223372036854775808", "\u00b2", "\u0661", "-1", "0", "1e3"])
def test_ids_that_no_row_can_have_are_skipped(logged_in: Client, job, ids):
    response = logged_in.get("/jobs/rows/", {"ids": f"{ids},{job.pk}"})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["rows"]] == [job.pk]


def test_the_largest_id_is_still_looked_up(logged_in: Client, job):
    response = logged_in.get("/jobs/rows/", {"ids": "9223372036854775807"})
    assert response.status_code == 200
    assert response.json()["rows"] == []


@pytest.mark.parametrize("path", LISTS)
def test_a_name_search_longer_than_any_name_is_a_400(logged_in: Client, job, path):
    response = logged_in.get(path, {"q": "x" * 50_000})
    assert response.status_code == 400
    assert b"longer than 200" in response.content


@pytest.mark.parametrize("path", LISTS)
def test_a_name_search_at_the_limit_is_searched(logged_in: Client, job, path):
    assert logged_in.get(path, {"q": "r" * MAX_Q_LENGTH}).status_code == 200
    assert logged_in.get(path, {"name": "r" * 1024}).status_code == 200


# A tag key may hold "=" (AWS allows it): these two jobs read "a=b=c" both ways.
@pytest.fixture
def equals_tags(db):
    return make_job("key-has-equals", tags={"a=b": "c"}), make_job("value-has-equals", tags={"a": "b=c"})


@pytest.mark.parametrize(
    ("tag", "names"),
    [
        ("a\\=b=c", {"key-has-equals"}),
        ("a=b=c", {"value-has-equals"}),
        ("a\\=b", {"key-has-equals"}),
        ("a", {"value-has-equals"}),
        ("a\\=b=b=c", set()),
    ],
)
@pytest.mark.parametrize("status", ["", "Completed"])
def test_a_tag_key_with_an_equals_sign_is_filterable(equals_tags, tag, names, status):
    flt = JobFilter.from_query({"tag": tag, "status": status})
    assert set(flt.apply().values_list("name", flat=True)) == names
    assert flt.counted().count() == len(names)
    if not status:  # counted on the tag index alone
        assert flt.index_count() == len(names)


def test_the_tag_chip_of_a_key_with_an_equals_sign_lists_its_job(logged_in: Client, equals_tags):
    page = logged_in.get("/", {"q": "key-has-equals"}).content.decode()
    link = "?tag=a%5C%3Db%3Dc"
    assert link in page
    listed = logged_in.get("/" + link)
    assert [row.job.name for row in listed.context["rows"]] == ["key-has-equals"]


def test_tag_param_round_trips_through_the_filter():
    flt = JobFilter(tag=tag_param("k=1=", "=v="))
    assert flt.tag == "k\\=1\\==" + "=v="


def test_a_status_no_job_has_and_none_known_is_reported_on_the_page(logged_in: Client, job):
    with CaptureQueriesContext(connection) as known_empty:
        response = logged_in.get("/", {"status": "Stopping"})
    assert response.context["filter_notices"] == []
    with CaptureQueriesContext(connection) as unknown:
        response = logged_in.get("/", {"status": "Bogus"})
    assert response.status_code == 200
    notice = "No job has status &#x27;Bogus&#x27;; known: InProgress, Completed, Failed, Stopping, Stopped, Deleting."
    assert notice in response.content.decode()
    # One probe for "does any job have it", only because the list is empty.
    assert len(unknown) == len(known_empty) + 1


def test_the_notice_escapes_the_value(logged_in: Client, job):
    response = logged_in.get("/", {"status": "<b>x</b>"})
    assert "<b>x</b>" not in response.content.decode()
    assert "&lt;b&gt;x&lt;/b&gt;" in response.content.decode()


def test_the_api_warns_on_an_empty_list_for_an_unknown_value(logged_in: Client, job):
    body = logged_in.get("/api/jobs/", {"status": "Bogus", "source": "nowhere"}).json()
    assert body["results"] == []
    assert body["warnings"] == [
        "No job has status 'Bogus'; known: InProgress, Completed, Failed, Stopping, Stopped, Deleting.",
        "No source is named 'nowhere'; sources: default.",
    ]
    assert "warnings" not in logged_in.get("/api/jobs/", {"status": "Stopping"}).json()


def test_a_stored_status_aws_added_later_is_listed_without_a_warning(logged_in: Client, job):
    make_job("newer-status", status="Archived")
    body = logged_in.get("/api/jobs/", {"status": "Archived"}).json()
    assert [row["name"] for row in body["results"]] == ["newer-status"]
    assert "warnings" not in body
    assert logged_in.get("/", {"status": "Archived"}).context["filter_notices"] == []


def test_a_status_in_another_case_is_the_known_status(logged_in: Client, job):
    body = logged_in.get("/api/jobs/", {"status": "completed"}).json()
    assert [row["name"] for row in body["results"]] == ["resnet-1"]


@pytest.mark.parametrize(
    ("params", "notice"),
    [
        ({"secondary_status": "Warming"}, "No job has phase 'Warming'"),
        ({"source": "nowhere"}, "No source is named 'nowhere'; sources: default, other."),
        ({"metric": "nope", "sort": "-metric"}, "No job has a final metric named 'nope'."),
    ],
)
def test_other_unknown_values_are_reported(logged_in: Client, job, params, notice):
    make_source("other")
    notices = logged_in.get("/", params).context["filter_notices"]
    assert len(notices) == 1
    assert notices[0].startswith(notice)
