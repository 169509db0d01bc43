"""The admin filters only through its list filters and search; anything else is a 400, never a query or a 500."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.factories import make_job

CHANGELIST = "/admin/jobs/trainingjob/"
THIRTY_DIGITS = "9" * 30


@pytest.fixture
def admin_client(client: Client, owner: User) -> Client:
    client.force_login(owner)
    return client


@pytest.fixture
def job(db):
    return make_job("resnet", status="Failed")


@pytest.mark.parametrize(
    "query",
    [
        {"name__regex": "(a+)+$"},  # a catastrophic regex over every name
        {"raw__contains": "x"},  # every job's JSON
        {"failure_reason__icontains": "memory"},
        {"id__in": THIRTY_DIGITS},  # overflowed SQLite's integer: a 500
        {"id__in": f"1,{THIRTY_DIGITS}"},
        {"arn": "x"},
        {"creation_time__year": "2026"},  # the date hierarchy is gone
        {"source__name__regex": "."},
        {"status": "Failed", "name__startswith": "res"},  # a real filter does not let another lookup through
    ],
)
def test_lookups_that_are_no_list_filter_are_refused(admin_client: Client, job, query: dict[str, str]) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(CHANGELIST, query)
    assert response.status_code == 400
    # Refused before the page's query: nothing read the jobs table with the lookup.
    assert not [q["sql"] for q in queries if "jobs_trainingjob" in q["sql"]]


@pytest.mark.parametrize(
    "query",
    [
        {"creation_time__gte": "garbage"},  # Django redirected to the unfiltered list
        {"creation_time__lt": "2026-13-45"},
        {"source__id__exact": THIRTY_DIGITS},  # out of range for the column, on either database
        {"source__id__exact": "-" + THIRTY_DIGITS},
        {"source__id__exact": "abc"},
        {"is_spot__exact": "maybe"},
        {"gone_at__isempty": "2"},
        {"secondary_status": "x" * 65},  # longer than the column
        {"status": "Fail\x00ed"},  # PostgreSQL refuses NUL in text: a 500
        {"instance_type": "\x00"},
        {"q": "a " * 5000},  # 5,000 LIKE terms: SQLite refused the expression tree (a 500)
    ],
)
def test_bad_values_of_real_filters_are_400(admin_client: Client, job, query: dict[str, str]) -> None:
    assert admin_client.get(CHANGELIST, query).status_code == 400


def test_real_filters_still_filter(admin_client: Client, job) -> None:
    make_job("other")

    def names(**query: str) -> set[str]:
        response = admin_client.get(CHANGELIST, query)
        assert response.status_code == 200
        return {j.name for j in response.context["cl"].result_list}

    assert names(status="Failed") == {"resnet"}
    assert names(source__id__exact=str(job.source_id), gone_at__isempty="1") == {"resnet", "other"}
    assert names(creation_time__gte="2026-11-20T00:00Z", creation_time__lt="2026-11-21T00:00Z") == {"resnet", "other"}
    assert names(creation_time__gte="2026-11-21 00:00:00+00:00") == set()
    assert names(q="CUDA out of memory") == {"resnet"}


def test_nul_in_search_is_refused_by_django(admin_client: Client, job) -> None:
    # Django's own search form rejects it (PostgreSQL would): the unfiltered list and a message.
    response = admin_client.get(CHANGELIST, {"q": "oom\x00"})
    assert response.status_code == 200
    assert "Null characters are not allowed." in [str(m) for m in response.context["messages"]]


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("/admin/jobs/source/", {"last_error__contains": "x"}),
        ("/admin/jobs/synccycle/", {"errors__gt": "0"}),
        ("/admin/jobs/syncerror/", {"message__regex": "(a+)+$"}),
        ("/admin/jobs/syncerror/", {"cycle__id__exact": THIRTY_DIGITS}),
        ("/admin/jobs/instanceprice/", {"hourly_usd__gt": "1"}),
        # The framework's and libraries' own admins get the same guard.
        ("/admin/auth/user/", {"password__startswith": "pbkdf2"}),
        ("/admin/auth/user/", {"is_staff__exact": THIRTY_DIGITS}),
        ("/admin/auth/group/", {"name__regex": "(a+)+$"}),
        ("/admin/authtoken/tokenproxy/", {"key__startswith": "a"}),
        ("/admin/axes/accessattempt/", {"username__regex": "(a+)+$"}),
        ("/admin/axes/accesslog/", {"user_agent__contains": "x"}),
    ],
)
def test_other_lists_refuse_other_lookups_too(admin_client: Client, db, url: str, query: dict[str, str]) -> None:
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url, query).status_code == 400


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("/admin/auth/user/", {"is_staff__exact": "1"}),
        ("/admin/axes/accessattempt/", {"q": "admin"}),
    ],
)
def test_other_admins_real_filters_still_work(admin_client: Client, db, url: str, query: dict[str, str]) -> None:
    assert admin_client.get(url, query).status_code == 200


def test_no_facet_counts(admin_client: Client, job, django_assert_max_num_queries) -> None:
    # "Show counts" would aggregate every filter's choices over the whole table.
    plain = admin_client.get(CHANGELIST)
    with CaptureQueriesContext(connection) as plain_queries:
        admin_client.get(CHANGELIST)
    with django_assert_max_num_queries(len(plain_queries)):
        response = admin_client.get(CHANGELIST, {"_facets": "True"})
    assert response.status_code == 200 and plain.status_code == 200
    assert "Show counts" not in response.content.decode()
