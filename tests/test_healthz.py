"""/healthz: 200 when the database, the broker and every enabled source are fine; 503 and why otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import OperationalError, connection

from tests.factories import make_source

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen(settings):
    settings.TRAINWATCH_SYNC_INTERVAL = 60
    with time_machine.travel(NOW, tick=False):
        yield


def get(client):
    response = client.get("/healthz")
    return response.status_code, response.json()


def test_healthy_without_login(client, db, django_assert_max_num_queries):
    make_source("prod", last_success_at=NOW - timedelta(seconds=30))
    make_source("old-account", enabled=False, last_success_at=NOW - timedelta(days=30))
    with django_assert_max_num_queries(2):
        status, body = get(client)
    assert status == 200
    assert body["status"] == "ok" and body["reason"] == ""
    assert body["database"] == "ok" and body["broker"] == "ok"
    # Disabled sources are not judged.
    assert body["sources"] == [
        {"name": "prod", "state": "ok", "age_seconds": 30, "late_after_seconds": 180, "reason": "last success 30 s ago"}
    ]


def test_stale_source_is_503_with_its_reason(client, db):
    make_source("prod", last_success_at=NOW - timedelta(seconds=30))
    make_source("eu", last_success_at=NOW - timedelta(seconds=181))
    status, body = get(client)
    assert status == 503
    assert body["status"] == "unhealthy"
    assert body["reason"] == "source eu: last success 3 min 1 s ago, more than 3 sync intervals (3 min)"
    assert [s["state"] for s in body["sources"]] == ["stale", "ok"]


def test_never_synced_and_failing_sources(client, db):
    make_source("new")
    make_source("broken", last_success_at=NOW - timedelta(hours=1), last_error="AccessDenied: arn:aws:iam::123:role/x")
    status, body = get(client)
    assert status == 503
    assert "source new: no cycle has finished without error yet" in body["reason"]
    assert "source broken: the last cycle failed; last success 1 h ago" in body["reason"]
    # AWS's error text stays behind the login.
    assert "AccessDenied" not in str(body) and "arn:aws" not in str(body)


def test_one_failed_cycle_after_a_success_is_still_healthy(client, db):
    make_source("prod", last_success_at=NOW - timedelta(seconds=50), last_error="ThrottlingException: Rate exceeded")
    status, body = get(client)
    assert status == 200
    assert body["sources"][0]["state"] == "failing"


def test_no_enabled_source_is_503(client, db):
    make_source("off", enabled=False, last_success_at=NOW)
    status, body = get(client)
    assert status == 503 and body["reason"] == "no enabled source"


def test_broker_down_is_503(client, db, settings):
    make_source("prod", last_success_at=NOW - timedelta(seconds=30))
    # Nothing listens on port 1: refused at once.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    status, body = get(client)
    assert status == 503
    assert body["broker"] == "error" and body["database"] == "ok"
    assert body["reason"] == "the broker (Redis) did not answer"


def test_database_down_is_503(client, db, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patched:
        patched.setattr(connection, "cursor", refuse)
        status, body = get(client)
    assert status == 503
    assert body["database"] == "error" and body["broker"] == "ok"
    assert body["reason"] == "the database did not answer"
    assert "connection refused" not in str(body)


def test_only_reads(client, db):
    assert client.post("/healthz").status_code == 405
    assert client.head("/healthz").status_code in {200, 503}


def test_unhealthy_probe_is_not_logged_as_a_server_error(client, db, caplog):
    make_source("new")
    with caplog.at_level("ERROR", logger="django.request"):
        assert client.get("/healthz").status_code == 503
    assert not [r for r in caplog.records if r.name == "django.request"]
