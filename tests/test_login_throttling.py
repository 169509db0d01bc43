"""Login throttling: repeated wrong passwords lock a username, or an address, out for the cool-off.

Real requests through the test client to the dashboard's login and the
admin's; django-axes counts in the database, time is frozen with time-machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from axes.exceptions import AxesBackendRequestParameterRequired
from axes.models import AccessAttempt, AccessLog
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent

LOGIN_PAGES = ["/accounts/login/", "/admin/login/"]
PASSWORD = "correct-horse-battery"
LIMIT = 5  # TRAINWATCH_LOGIN_FAILURE_LIMIT's default
COOLOFF = timedelta(minutes=15)  # TRAINWATCH_LOGIN_COOLOFF_MINUTES's default
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def owner(db) -> User:
    """A superuser, so the admin's login lets them in too."""
    return User.objects.create_superuser("owner", "owner@example.org", PASSWORD)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def log_in(client: Client, url: str, username: str, password: str, address: str = "10.0.0.1", **headers: str):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address, **headers)


def logged_in_as(client: Client) -> str | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id).username if user_id else None


def assert_locked_out(response) -> None:
    assert response.status_code == 429
    assert response["Retry-After"] == str(int(COOLOFF.total_seconds()))
    body = response.content.decode()
    assert "Too many failed logins" in body
    assert "Try again in 15 minutes" in body
    assert "Trainwatch" in body  # the project's own page, not axes' bare text


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_a_user_attacked_from_many_addresses_is_locked_even_with_the_right_password(client, owner, clock, url):
    for n in range(LIMIT - 1):
        response = log_in(client, url, "owner", "wrong", address=f"10.0.1.{n}")
        assert response.status_code == 200, "below the limit the login form answers as usual"
        assert b"didn't match" in response.content or b"enter the correct" in response.content
    assert_locked_out(log_in(client, url, "owner", "wrong", address="10.0.1.99"))

    # From yet another address, with the right password: still refused.
    response = log_in(client, url, "owner", PASSWORD, address="10.0.2.1")

    assert_locked_out(response)
    assert logged_in_as(client) is None


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_one_address_trying_many_usernames_is_locked(client, owner, clock, url):
    for n in range(LIMIT):
        response = log_in(client, url, f"guess{n}", "wrong", address="10.0.0.9")
    assert_locked_out(response)

    assert_locked_out(log_in(client, url, "owner", PASSWORD, address="10.0.0.9"))
    assert logged_in_as(client) is None

    # The owner's name was never tried: from their own address they get in.
    response = log_in(client, url, "owner", PASSWORD, address="10.0.0.2")
    assert response.status_code == 302
    assert logged_in_as(client) == "owner"


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_the_lock_ends_after_the_cool_off(client, owner, clock, url):
    for _ in range(LIMIT):
        log_in(client, url, "owner", "wrong")

    clock.shift(COOLOFF - timedelta(seconds=1))
    assert_locked_out(log_in(client, url, "owner", PASSWORD))
    assert logged_in_as(client) is None

    # Each try during the lock started the wait again: a full cool-off after the last one.
    clock.shift(COOLOFF - timedelta(seconds=1))
    assert_locked_out(log_in(client, url, "owner", PASSWORD))

    clock.shift(COOLOFF + timedelta(seconds=1))
    response = log_in(client, url, "owner", PASSWORD)
    assert response.status_code == 302
    assert logged_in_as(client) == "owner"


def test_a_successful_login_resets_the_count(client, owner, clock):
    url = LOGIN_PAGES[0]
    for _ in range(LIMIT - 1):
        log_in(client, url, "owner", "wrong")
    assert log_in(client, url, "owner", PASSWORD).status_code == 302
    client.post("/accounts/logout/")

    # A fresh allowance: LIMIT - 1 more mistakes still leave the form open.
    for _ in range(LIMIT - 1):
        assert log_in(client, url, "owner", "wrong").status_code == 200
    assert log_in(client, url, "owner", PASSWORD).status_code == 302
    assert AccessLog.objects.filter(username="owner").count() == 2


def test_logging_in_to_ones_own_account_does_not_reset_the_guesses_at_another(client, owner, clock):
    """An attacker with an account of their own, guessing the owner's password from one address."""
    User.objects.create_user("mallory", "m@example.org", "mallorys-own-password")
    url = LOGIN_PAGES[0]
    for _ in range(LIMIT - 1):
        log_in(client, url, "owner", "wrong", address="10.6.6.6")
    assert log_in(Client(), url, "mallory", "mallorys-own-password", address="10.6.6.6").status_code == 302

    assert_locked_out(log_in(client, url, "owner", "wrong", address="10.6.6.6"))
    assert_locked_out(log_in(client, url, "owner", PASSWORD, address="10.7.7.7"))


def test_a_forged_forwarded_for_does_not_move_a_locked_address(client, owner, clock, settings):
    settings.BEHIND_TLS_PROXY = False
    url = LOGIN_PAGES[0]
    for n in range(LIMIT):
        log_in(client, url, f"guess{n}", "wrong", address="10.0.0.9")

    response = log_in(client, url, "owner", PASSWORD, address="10.0.0.9", HTTP_X_FORWARDED_FOR="203.0.113.7")

    assert_locked_out(response)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"10.0.0.9"}


def test_behind_the_proxy_only_its_own_forwarded_entry_counts(client, owner, clock, settings):
    settings.BEHIND_TLS_PROXY = True
    url = LOGIN_PAGES[0]
    proxy = "127.0.0.1"
    for n in range(LIMIT):
        # Each guess forges a different left-hand entry; the proxy appends the real peer last.
        log_in(client, url, f"guess{n}", "wrong", address=proxy, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 10.0.0.9")

    response = log_in(client, url, "owner", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.7, 10.0.0.9")
    assert_locked_out(response)

    # Another client behind the same proxy is not locked out with it.
    response = log_in(client, url, "owner", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="10.0.0.2")
    assert response.status_code == 302


def test_without_a_known_address_failures_count_against_the_username_only(client, owner, clock, settings):
    # Behind the proxy a request without X-Forwarded-For has no address: were it
    # one shared bucket, one client guessing names would lock everyone out.
    settings.BEHIND_TLS_PROXY = True
    url = LOGIN_PAGES[0]
    for n in range(LIMIT):
        assert log_in(client, url, f"guess{n}", "wrong", address="127.0.0.1").status_code == 200

    assert log_in(client, url, "owner", PASSWORD, address="127.0.0.1").status_code == 302

    client.post("/accounts/logout/")
    for _ in range(LIMIT):
        response = log_in(client, url, "owner", "wrong", address="127.0.0.1")
    assert_locked_out(response)


def test_operators_see_the_lock_in_the_admin(client, owner, clock):
    for _ in range(LIMIT):
        log_in(Client(), LOGIN_PAGES[0], "teammate", "wrong", address="10.0.0.9")
    client.force_login(owner)

    response = client.get("/admin/axes/accessattempt/?locked_out=yes")

    assert response.status_code == 200
    body = response.content.decode()
    assert "teammate" in body and "10.0.0.9" in body and "Locked Out" in body


def test_authenticating_without_a_request_fails_loudly(owner):
    """A login path that gave no request would skip the lockout: axes refuses it instead.

    Django's test ``Client.login`` is such a path, so tests log in with ``force_login``.
    """
    with pytest.raises(AxesBackendRequestParameterRequired):
        authenticate(username="owner", password=PASSWORD)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "dashboard.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_limit_and_cool_off_come_from_the_environment():
    shown = "from django.conf import settings as s; print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME)"
    result = manage(
        "shell", "-v", "0", "-c", shown, TRAINWATCH_LOGIN_FAILURE_LIMIT="3", TRAINWATCH_LOGIN_COOLOFF_MINUTES="90"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3", "1:30:00"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TRAINWATCH_LOGIN_FAILURE_LIMIT", "0", "TRAINWATCH_LOGIN_FAILURE_LIMIT=0 must be at least 1"),
        ("TRAINWATCH_LOGIN_COOLOFF_MINUTES", "soon", "TRAINWATCH_LOGIN_COOLOFF_MINUTES='soon' is not a whole number"),
    ],
)
def test_a_bad_limit_or_cool_off_stops_start_up_naming_it(name, value, message):
    result = manage("check", **{name: value})
    assert result.returncode == 78
    assert result.stderr.splitlines() == [f"trainwatch: bad setting: {message}"]
