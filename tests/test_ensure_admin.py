"""ensure_admin: the first admin user, with a password the validators accept, never logged."""

from __future__ import annotations

import io
import logging

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(stdout: io.StringIO | None = None) -> str:
    out = stdout or io.StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short1", "too short"),
        ("password123", "too common"),
        ("8482963715", "entirely numeric"),
        ("administrator", "too similar to the username"),
    ],
)
def test_a_given_password_must_pass_the_validators(monkeypatch, password, why):
    monkeypatch.setenv("TRAINWATCH_ADMIN_PASSWORD", password)
    monkeypatch.setenv("TRAINWATCH_ADMIN_USER", "administrator")
    with pytest.raises(CommandError, match=f"TRAINWATCH_ADMIN_PASSWORD is refused: .*{why}"):
        run()
    assert not User.objects.exists()


def test_a_good_given_password_is_used_and_not_echoed(monkeypatch):
    monkeypatch.setenv("TRAINWATCH_ADMIN_PASSWORD", "correct-horse-battery")
    out = run()
    assert "Created admin user 'admin'" in out
    assert "correct-horse-battery" not in out
    assert User.objects.get(username="admin", is_superuser=True).check_password("correct-horse-battery")


def test_a_made_up_password_is_shown_once_on_a_terminal_and_never_logged(monkeypatch, caplog):
    monkeypatch.delenv("TRAINWATCH_ADMIN_PASSWORD", raising=False)
    caplog.set_level(logging.DEBUG)
    out = run(Terminal())
    password = out.split("with password ", 1)[1].split()[0]
    assert User.objects.get(username="admin").check_password(password)
    assert password not in caplog.text
    assert password not in run(Terminal())  # the second time: "exists already"


def test_without_a_terminal_no_password_is_made_up(monkeypatch, caplog):
    monkeypatch.delenv("TRAINWATCH_ADMIN_PASSWORD", raising=False)
    caplog.set_level(logging.DEBUG)
    out = run()  # output to a file or a log collector
    assert "without a password" in out
    assert "changepassword admin" in out
    admin = User.objects.get(username="admin")
    assert admin.is_superuser
    assert not admin.has_usable_password()
    assert caplog.records == []


def test_an_existing_admin_is_left_alone(monkeypatch, owner):
    monkeypatch.setenv("TRAINWATCH_ADMIN_PASSWORD", "x")  # not even validated: nothing is created
    assert "exists already" in run()
    assert User.objects.count() == 1
