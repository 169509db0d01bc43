"""GET /api/status/: the status page's figures as JSON."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token

from jobs.models import Source
from tests.factories import T0, make_job

NOW = T0 + timedelta(hours=2)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def jobs(db, frozen):
    make_job("done", now=NOW)
    make_job("broken", status="Failed", now=NOW)
    make_job("live", status="InProgress", now=NOW)
    Source.objects.filter(name="default").update(last_success_at=NOW - timedelta(seconds=30), last_error="boom")


@pytest.mark.django_db
def test_anonymous_is_refused(client: Client) -> None:
    assert client.get("/api/status/").status_code in (401, 403)


@pytest.mark.parametrize("who", ["teammate", "owner"])
def test_figures(client: Client, request, jobs, who: str) -> None:
    client.force_login(request.getfixturevalue(who))
    body = client.get("/api/status/").json()
    assert body["generated_at"] == "2026-11-20T14:00:00Z"
    assert body["public"] is False
    assert [j["name"] for j in body["running"]] == ["live"]
    running = body["running"][0]
    assert running["creation_time"] == "2026-11-20T12:00:00Z"
    assert running["training_seconds"] == 6900
    assert running["arn"].endswith("training-job/live")
    assert body["last_24h"]["completed"] == 1 and body["last_24h"]["failed"] == 1
    assert {j["name"] for j in body["recent"]} == {"done", "broken"}
    assert body["spend"]["today"]["billable_seconds"] > 0
    assert body["sources"][0]["name"] == "default"
    assert body["sources"][0]["last_error"] == "boom"


def test_token_auth(client: Client, teammate: User, jobs) -> None:
    token = Token.objects.create(user=teammate)
    response = client.get("/api/status/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    assert response.json()["running"][0]["name"] == "live"


def test_public_status_hides_details(client: Client, settings, jobs) -> None:
    settings.TRAINWATCH_STATUS_PUBLIC = True
    body = client.get("/api/status/").json()
    assert body["public"] is True
    assert "arn" not in body["running"][0]
    assert "last_error" not in body["sources"][0]


def test_timestamps_are_utc(client: Client, teammate: User, settings, jobs) -> None:
    settings.TIME_ZONE = "America/New_York"
    client.force_login(teammate)
    body = client.get("/api/status/").json()
    assert body["generated_at"] == "2026-11-20T14:00:00Z"
    assert body["running"][0]["creation_time"].endswith("Z")


@pytest.mark.parametrize("size", [1, 8])
def test_queries_are_constant(client: Client, teammate: User, frozen, django_assert_num_queries, size: int) -> None:
    for i in range(size):
        make_job(f"live-{i}", status="InProgress", now=NOW)
        make_job(f"done-{i}", now=NOW)
    client.force_login(teammate)
    # session, user, then the status module's six, the newest change (figures_cache) and the budgets
    with django_assert_num_queries(10):
        client.get("/api/status/")
