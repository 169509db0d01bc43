"""Security pass: who reaches which URL, who may stop a job, deploy checks, secrets.

Every named URL the resolver knows (pages, API, admin, auth) is requested as
an anonymous visitor, a plain user, a staff member without permissions and a
superuser, with path arguments filled from real rows.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from jobs import sagemaker, sync
from jobs.models import TrainingJob
from tests.factories import make_job

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db


def named_urls(resolver: URLResolver | None = None, namespace: str = "") -> list[tuple[str, list[str]]]:
    """(namespaced name, converter names) for every named pattern, admin included."""
    found = []
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found += [(name, [*entry.pattern.regex.groupindex, *params]) for name, params in named_urls(entry, ns)]
        elif isinstance(entry, URLPattern) and entry.name:
            found.append((f"{namespace}{entry.name}", list(entry.pattern.regex.groupindex)))
    return found


def fill(name: str, params: list[str], job: TrainingJob) -> str | None:
    """A real URL for a named pattern, or None for ones that need what no test has (a reset token)."""
    kwargs: dict[str, str] = {}
    for param in params:
        if param == "job_id":
            kwargs[param] = str(job.pk)
        elif param == "name":
            kwargs[param] = job.tuning_job_arn.rsplit("/", 1)[-1]
        elif param == "app_label":
            kwargs[param] = "jobs"
        elif param in ("object_id", "id"):
            app_model = name.removeprefix("admin:").rsplit("_", 2 if name.endswith("_password_change") else 1)[0]
            app_label, _, model_name = app_model.partition("_")
            model = apps.get_model(app_label, model_name)
            row = model.objects.order_by("pk").first()
            kwargs[param] = str(row.pk if row is not None else 1)
        elif param in ("content_type_id", "uidb64", "token", "url"):
            return None
        else:
            raise AssertionError(f"{name}: no value for <{param}>; teach fill() about it")
    return reverse(name, kwargs=kwargs)


# Where an anonymous visitor may land without being sent to a login page.
PUBLIC = {"login", "admin:login"}
PUBLIC_WHEN_STATUS_PUBLIC = {"jobs:status", "jobs:status_fragment", "api-status"}
# Django's own account pages an anonymous visitor may see: log out (POST only).
# There is no password-reset flow (test_no_password_reset_pages).
ACCOUNT_FLOW = {"logout", "admin:logout"}
# Probes for load balancers and Prometheus, open without a login by design
# (tests/test_healthz.py, tests/test_metrics.py): /healthz answers 503 while a
# source has never synced, as here.
PROBES = {"healthz", "metrics"}


# What any staff member may open in the admin: its index and their own password.
STAFF_OWN = {"admin:index", "admin:jsi18n", "admin:password_change", "admin:password_change_done"}


@pytest.fixture
def job(db):
    # A trial of a tuning job, so /tuning/<name>/ has a page to walk.
    return make_job(
        "security-probe",
        status="InProgress",
        TuningJobArn="arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/probe-tuning",
    )


@pytest.fixture
def staff(db) -> User:
    """Staff without any permission: the admin index, nothing in it."""
    return User.objects.create_user("staff", "staff@example.org", "password", is_staff=True)


@pytest.fixture
def operator(db) -> User:
    """Staff who may view jobs and stop them."""
    user = User.objects.create_user("operator", "operator@example.org", "password", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="view_trainingjob"), Permission.objects.get(codename="stop_trainingjob")
    )
    return user


def urls(job: TrainingJob) -> list[tuple[str, str]]:
    pairs = [(name, fill(name, params, job)) for name, params in named_urls()]
    return [(name, url) for name, url in pairs if url is not None]


def test_the_walk_covers_pages_api_admin_and_accounts(job):
    names = {name for name, _ in urls(job)}
    assert {"jobs:index", "jobs:detail", "jobs:failures", "jobs:status", "api-jobs", "api-job", "api-status"} <= names
    assert {"login", "admin:index", "admin:jobs_trainingjob_changelist", "admin:jobs_trainingjob_change"} <= names
    assert len(names) > 40


@pytest.mark.parametrize("status_public", [False, True])
def test_anonymous_visitors_reach_only_the_login_page_and_the_public_status(job, settings, status_public):
    settings.TRAINWATCH_STATUS_PUBLIC = status_public
    client = Client()
    reached = set()
    for name, url in urls(job):
        if name in PROBES:
            continue
        response = client.get(url)
        if response.status_code == 200:
            reached.add(name)
            continue
        if url.startswith("/api/"):
            assert response.status_code in (401, 403), f"{name} {url}: {response.status_code}"
        elif response.status_code in (301, 302):
            assert "login" in response["Location"] or name in ACCOUNT_FLOW, f"{name} {url} -> {response['Location']}"
        else:
            assert response.status_code in (403, 404, 405), f"{name} {url}: {response.status_code}"
    allowed = PUBLIC | ACCOUNT_FLOW | (PUBLIC_WHEN_STATUS_PUBLIC if status_public else set())
    assert reached <= allowed, f"anonymous reached {sorted(reached - allowed)}"
    assert "login" in reached
    assert (reached >= PUBLIC_WHEN_STATUS_PUBLIC) == status_public


@pytest.mark.parametrize("who", ["teammate", "staff", "owner"])
def test_signed_in_users_never_see_an_error_and_only_staff_reach_the_admin(job, request, who):
    user = request.getfixturevalue(who)
    client = Client()
    client.force_login(user)
    for name, url in urls(job):
        if name in PROBES:
            continue
        response = client.get(url)
        assert response.status_code < 500, f"{who} {name} {url}: {response.status_code}"
        if name.startswith("admin:") and name not in ACCOUNT_FLOW | {"admin:login"}:
            if who == "teammate":
                assert response.status_code == 302 and "login" in response["Location"], name
            elif who == "staff" and name not in STAFF_OWN:
                assert response.status_code in (302, 403, 404), f"staff without permissions reached {name}"
        elif not name.startswith("admin:") and name not in ACCOUNT_FLOW | {"logout"}:
            assert response.status_code in (200, 302), f"{who} {name} {url}: {response.status_code}"


# --- stopping a job ---------------------------------------------------------------------------


def stop_post(client: Client, job: TrainingJob, **extra: str):
    return client.post(
        reverse("admin:jobs_trainingjob_changelist"),
        {"action": "stop_selected", "_selected_action": [job.pk], "confirm": "yes", **extra},
    )


@pytest.fixture
def stop_calls():
    with (
        mock.patch.object(sagemaker, "stop_job") as stop,
        mock.patch.object(sync, "describe_and_store", return_value=sync.DescribeResult(None, "")),
    ):
        yield stop


@pytest.mark.parametrize("who", [None, "teammate", "staff"])
def test_only_the_stop_permission_stops_a_job(job, request, stop_calls, who):
    client = Client()
    if who:
        client.force_login(request.getfixturevalue(who))
    stop_post(client, job)
    assert not stop_calls.called


def test_the_stop_permission_stops_a_job_by_post(job, operator, stop_calls):
    client = Client()
    client.force_login(operator)
    response = stop_post(client, job)
    assert response.status_code == 302
    stop_calls.assert_called_once()
    assert stop_calls.call_args.args[1] == "security-probe"


def test_a_stop_without_the_csrf_token_is_refused(job, operator, stop_calls):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    response = stop_post(client, job)
    assert response.status_code == 403
    assert not stop_calls.called


def test_a_stop_by_get_does_nothing(job, operator, stop_calls):
    client = Client()
    client.force_login(operator)
    client.get(
        reverse("admin:jobs_trainingjob_changelist"),
        {"action": "stop_selected", "_selected_action": job.pk, "confirm": "yes"},
    )
    assert not stop_calls.called


def test_a_stop_first_asks_for_confirmation(job, operator, stop_calls):
    client = Client()
    client.force_login(operator)
    response = client.post(
        reverse("admin:jobs_trainingjob_changelist"), {"action": "stop_selected", "_selected_action": [job.pk]}
    )
    assert response.status_code == 200
    assert b"csrfmiddlewaretoken" in response.content
    assert not stop_calls.called


# --- deployment --------------------------------------------------------------------------------


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    # What an operator's shell would hold: no test-only switches (the browser
    # tests' DJANGO_ALLOW_ASYNC_UNSAFE is itself a deploy-check error).
    test_only = ("SECURE_", "DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(test_only)}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "dashboard.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "trainwatch.example.org",
    "SECURE_COOKIES": "1",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


def test_check_deploy_is_clean_under_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_start_up_refuses_a_missing_secret_key_when_debug_is_off():
    result = manage("check", env={**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


CANARY_SECRET = "canary-secret-key-" + "k" * 40
CANARY_AWS_KEY = "AKIACANARYCANARY0000"
CANARY_AWS_SECRET = "canary/aws/secret/access/key/0123456789"


def test_no_secret_is_rendered_on_any_page_or_in_the_api(job, owner, settings, monkeypatch):
    settings.SECRET_KEY = CANARY_SECRET
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CANARY_AWS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CANARY_AWS_SECRET)
    client = Client()
    client.force_login(owner)
    for name, url in urls(job):
        response = client.get(url)
        raw = b"".join(response.streaming_content) if response.streaming else response.content
        body = raw.decode(errors="replace")
        for canary in (CANARY_SECRET, CANARY_AWS_KEY, CANARY_AWS_SECRET):
            assert canary not in body, f"{canary[:10]}... on {name} {url}"


def test_no_secret_reaches_sync_errors_or_logs(job, settings, monkeypatch, caplog):
    settings.SECRET_KEY = CANARY_SECRET
    settings.AWS_MAX_ATTEMPTS = 1
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CANARY_AWS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CANARY_AWS_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    sagemaker.reset_clients()
    job.source.endpoint_url = "http://127.0.0.1:9"  # nothing listens: connection refused
    job.source.save()
    try:
        with caplog.at_level("DEBUG", logger="jobs"):
            sync.run_cycle(job.source)
            sync.describe_and_store(job.source, job.name, cycle_id=None)
    finally:
        sagemaker.reset_clients()
    from jobs.models import Source, SyncError

    recorded = [e.message for e in SyncError.objects.all()] + list(Source.objects.values_list("last_error", flat=True))
    assert any("cannot reach SageMaker" in text for text in recorded)
    for text in [*recorded, caplog.text]:
        for canary in (CANARY_SECRET, CANARY_AWS_KEY, CANARY_AWS_SECRET):
            assert canary not in text


def test_production_cookies_and_headers(settings, client, teammate):
    assert django_settings.SESSION_COOKIE_HTTPONLY
    assert "django.middleware.clickjacking.XFrameOptionsMiddleware" in django_settings.MIDDLEWARE
    client.force_login(teammate)
    response = client.get(reverse("jobs:index"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_no_password_reset_pages(client):
    """Without outgoing mail a reset flow would only leak which users exist."""
    for path in ("/accounts/password_reset/", "/accounts/reset/done/", "/accounts/password_change/"):
        assert client.get(path).status_code == 404
