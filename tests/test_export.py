"""The jobs list as CSV: the page's "Download CSV" and /api/jobs/?format=csv."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from jobs.export import FIXED_COLUMNS
from tests.factories import T0, XSS, make_job

pytestmark = pytest.mark.django_db


def _csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def _jobs(n: int) -> None:
    for i in range(n):
        make_job(
            f"job-{i:03d}",
            status="Failed" if i % 3 == 0 else "Completed",
            created=T0 + timedelta(minutes=i),
            tags={"team": "vision" if i % 2 else "nlp", **({"owner": "ana"} if i == 1 else {})},
            HyperParameters={"epochs": str(i), **({"dropout": "-0.1"} if i == 2 else {})},
        )


def test_columns_are_the_fixed_ones_then_the_keys_present(logged_in) -> None:
    _jobs(3)
    rows = _csv(logged_in.get("/jobs.csv"))
    header = list(rows[0])
    assert header[: len(FIXED_COLUMNS)] == list(FIXED_COLUMNS)
    assert header[len(FIXED_COLUMNS) :] == [
        "tag:owner",
        "tag:team",
        "hyperparameter:dropout",
        "hyperparameter:epochs",
        "metric:train:loss",
        "metric:validation:accuracy",
    ]


def test_rows_are_the_lists_in_its_order_with_the_apis_values(logged_in) -> None:
    _jobs(7)
    rows = _csv(logged_in.get("/jobs.csv", {"status": "Completed"}))
    api = logged_in.get("/api/jobs/", {"status": "Completed"}).json()
    assert len(rows) == api["count"] == 4
    assert [row["name"] for row in rows] == [job["name"] for job in api["results"]]
    first, first_api = rows[0], api["results"][0]
    assert first["creation_time"] == first_api["creation_time"] and first["creation_time"].endswith("Z")
    assert float(first["estimated_cost"]) == first_api["estimated_cost"]
    assert first["billable_seconds"] == str(first_api["billable_seconds"]) == "7200"
    assert first["duration_seconds"] == "3600" and first["spot"] == "false"
    assert first["metric:validation:accuracy"] == "0.91"
    # A key a job does not have is an empty cell.
    by_name = {row["name"]: row for row in rows}
    assert by_name["job-001"]["tag:owner"] == "ana" and by_name["job-004"]["tag:owner"] == ""
    assert by_name["job-002"]["hyperparameter:dropout"] == "-0.1"  # a number, left alone


def test_the_sort_and_a_tag_filter_apply(logged_in) -> None:
    _jobs(6)
    rows = _csv(logged_in.get("/jobs.csv", {"tag": "team=vision", "sort": "name"}))
    assert [row["name"] for row in rows] == ["job-001", "job-003", "job-005"]


def test_text_a_spreadsheet_would_run_is_kept_as_text(logged_in) -> None:
    make_job(
        "formula",
        status="Failed",
        FailureReason='=HYPERLINK("http://evil.example","click")',
        HyperParameters={"@cmd": "+cmd|' /C calc'!A0", XSS: XSS},
        tags={"team": "-2+3"},
    )
    (row,) = _csv(logged_in.get("/jobs.csv"))
    assert row["failure_reason"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert row["hyperparameter:@cmd"] == "'+cmd|' /C calc'!A0"
    assert row["tag:team"] == "'-2+3"
    assert row[f"hyperparameter:{XSS}"] == XSS  # text, as it came: a CSV has no markup


def test_the_page_links_its_filtered_list(logged_in) -> None:
    _jobs(2)
    html = logged_in.get("/", {"status": "Failed", "sort": "name"}).content.decode()
    assert 'href="/jobs.csv?status=Failed&amp;sort=name"' in html


def test_queries_do_not_grow_with_the_rows(logged_in, django_assert_max_num_queries) -> None:
    _jobs(30)
    # session, user, keys, metric names, prices, sources, rows, their metrics
    with django_assert_max_num_queries(8):
        rows = _csv(logged_in.get("/jobs.csv"))
    assert len(rows) == 30


def test_api_format_csv(client, teammate) -> None:
    _jobs(4)
    assert client.get("/api/jobs/", {"format": "csv"}).status_code in {401, 403}
    client.force_login(teammate)
    rows = _csv(client.get("/api/jobs/", {"format": "csv", "status": "Failed"}))
    assert [row["name"] for row in rows] == ["job-003", "job-000"]
    assert client.get("/api/jobs/", {"format": "csv", "status": "a\x00b"}).status_code == 400


def test_login_and_bad_filters(client, logged_in) -> None:
    assert logged_in.get("/jobs.csv", {"status": "a\x00b"}).status_code == 400
    logged_in.logout()
    response = logged_in.get("/jobs.csv")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_empty_list_is_a_header(logged_in) -> None:
    response = logged_in.get("/jobs.csv")
    assert b"".join(response.streaming_content).decode().splitlines() == [",".join(FIXED_COLUMNS)]
