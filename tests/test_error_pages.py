"""Error pages show no settings, 500s are logged with their traceback, the run command runs without DEBUG."""

from __future__ import annotations

import io
import logging
import os
import shutil
import stat

import pytest
from django.core.management import call_command
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from dashboard import launcher

# Spelled backwards here: the DEBUG page quotes this file's source lines.
PASSWORD = "lru-eht-ni-2retnuh"[::-1]
SECRET_URL = f"redis://:{PASSWORD}@broker.internal:6379/0"


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom from the view")


urlpatterns = [path("boom/", boom)]


@pytest.fixture
def raising(settings):
    settings.ROOT_URLCONF = __name__
    settings.REDIS_URL = SECRET_URL
    settings.CELERY_BROKER_URL = SECRET_URL
    return Client(raise_request_exception=False)


def test_debug_off_500_is_plain(db, raising, settings):
    settings.DEBUG = False
    response = raising.get("/boom/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Server Error" in body
    for leak in (PASSWORD, "REDIS_URL", "Traceback", "boom from the view", "SECRET_KEY"):
        assert leak not in body


def test_debug_page_hides_urls_with_passwords(db, raising, settings):
    # Whoever turns DEBUG on still does not publish the broker's password.
    settings.DEBUG = True
    response = raising.get("/boom/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "REDIS_URL" in body  # the settings table is there, cleansed
    assert PASSWORD not in body


def test_unhandled_error_is_logged_with_traceback(db, raising, settings):
    settings.DEBUG = False
    handlers = logging.getLogger("django.request").handlers
    consoles = [h for h in handlers if type(h) is logging.StreamHandler]
    assert consoles, "django.request has no stderr handler"
    out = io.StringIO()
    previous = consoles[0].setStream(out)
    try:
        assert raising.get("/boom/").status_code == 500
    finally:
        consoles[0].setStream(previous)
    logged = out.getvalue()
    assert "ERROR django.request: Internal Server Error: /boom/" in logged
    assert "Traceback (most recent call last)" in logged
    assert "RuntimeError: boom from the view" in logged


def test_static_files_are_served_with_debug_off(db, settings, tmp_path):
    # The run command collects static files; WhiteNoise serves them without DEBUG.
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", "--noinput", "-v", "0")
    response = Client().get("/static/css/app.css")
    assert response.status_code == 200
    assert b"".join(response.streaming_content)


@pytest.fixture
def fresh_env(monkeypatch, tmp_path):
    for name in ("DEBUG", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'run.sqlite3'}")
    made = []

    def make() -> launcher.Launcher:
        made.append(launcher.Launcher())
        return made[-1]

    yield make
    for one in made:
        shutil.rmtree(one.run_dir, ignore_errors=True)


def test_run_command_turns_debug_off_and_keeps_a_generated_key(fresh_env, tmp_path):
    first = fresh_env()
    assert first.env["DEBUG"] == "False"
    key_file = tmp_path / "run.sqlite3.secret_key"
    assert key_file.read_text().strip() == first.env["SECRET_KEY"]
    assert len(first.env["SECRET_KEY"]) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # The next start signs with the same key, so sessions survive a restart.
    assert fresh_env().env["SECRET_KEY"] == first.env["SECRET_KEY"]


def test_run_command_honours_given_debug_and_key(fresh_env, monkeypatch, tmp_path):
    monkeypatch.setenv("DEBUG", "True")
    monkeypatch.setenv("SECRET_KEY", "given-key")
    one = fresh_env()
    assert one.env["DEBUG"] == "True"
    assert one.env["SECRET_KEY"] == "given-key"
    assert not (tmp_path / "run.sqlite3.secret_key").exists()


def test_secret_key_file_places(tmp_path):
    assert launcher.secret_key_file({}) == launcher.ROOT / "trainwatch.sqlite3.secret_key"
    db = tmp_path / "x.sqlite3"
    assert launcher.secret_key_file({"DATABASE_URL": f"sqlite:///{db}"}) == tmp_path / "x.sqlite3.secret_key"
    assert launcher.secret_key_file({"DATABASE_URL": "postgres://u@h/db"}) == launcher.ROOT / "trainwatch.secret_key"


def test_empty_key_file_is_replaced(tmp_path):
    path = tmp_path / "key"
    path.write_text("\n")
    os.chmod(path, 0o644)
    key = launcher.persistent_secret_key(path)
    assert key and path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
