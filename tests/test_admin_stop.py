"""The admin's "Stop selected training jobs" action.

The stop itself crosses real HTTP: to the simulated account (which accepts
StopTrainingJob and moves the job to Stopping) and to moto's server (which
does not implement it: the AWS-error path). Permission, confirmation, GET
and CSRF checks patch jobs.sagemaker.stop_job, the project's own wrapper.
"""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.test import Client

from jobs import sagemaker
from jobs.models import Source, TrainingJob
from tests.factories import make_job
from tests.sagemaker_peers import HAVE_SIMULATOR, simulated_peer

# These patch describe_job at our wrapper: the describe path, without Search.
pytestmark = pytest.mark.usefixtures("describe_only")

CHANGELIST = "/admin/jobs/trainingjob/"
STOP = {"action": "stop_selected"}
CONFIRM = {"action": "stop_selected", "confirm": "yes", "select_across": "0"}


def _staff(username: str, *codenames: str) -> User:
    user = User.objects.create_user(username, f"{username}@example.org", "password", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="jobs", codename__in=codenames))
    return user


@pytest.fixture
def stopper(db) -> User:
    """Staff allowed to look at jobs and to stop them, nothing more."""
    return _staff("stopper", "view_trainingjob", "stop_trainingjob")


@pytest.fixture
def editor(db) -> User:
    """Staff who may view and change jobs but has no stop permission."""
    return _staff("editor", "view_trainingjob", "change_trainingjob")


@pytest.fixture
def stop_calls(monkeypatch) -> list[str]:
    calls: list[str] = []

    def stop_job(config, name):
        calls.append(name)

    def describe_job(config, name):
        raise sagemaker.SageMakerError("not reachable in this test", code="Test")

    monkeypatch.setattr(sagemaker, "stop_job", stop_job)
    monkeypatch.setattr(sagemaker, "describe_job", describe_job)
    return calls


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _actions(client: Client) -> set[str]:
    form = client.get(CHANGELIST).context["action_form"]
    return set(dict(form.fields["action"].choices)) if form else set()


# --- against a real HTTP peer -----------------------------------------------


@pytest.mark.skipif(not HAVE_SIMULATOR, reason="simulated SageMaker with StopTrainingJob not available")
def test_stop_against_simulated_account(client: Client, stopper: User, aws_env) -> None:
    with simulated_peer() as peer:
        assert len(peer.running) >= 2, "the seeded account should have running jobs"
        running = peer.store(peer.running[0])
        untouched = peer.store(peer.running[1])
        finished = peer.store(peer.finished[0])
        selected = [running.pk, finished.pk]
        client.force_login(stopper)

        # Choosing the action only asks.
        response = client.post(CHANGELIST, {**STOP, "_selected_action": selected})
        assert response.status_code == 200
        assert [j.name for j in response.context["to_stop"]] == [running.name]
        assert [j.name for j in response.context["to_skip"]] == [finished.name]
        assert peer.stop_calls() == 0

        response = client.post(CHANGELIST, {**CONFIRM, "_selected_action": selected}, follow=True)
        messages = _messages(response)
        assert f"{running.name}: stopped (StopTrainingJob accepted; now Stopping)." in messages
        assert f"{finished.name}: already {finished.status}, skipped." in messages
        assert peer.stop_calls() == 1
        assert peer.status(running.name) in ("Stopping", "Stopped")
        assert peer.status(untouched.name) == "InProgress"
        running.refresh_from_db()
        assert running.status == "Stopping"
        assert LogEntry.objects.filter(object_id=str(running.pk), user=stopper).exists()


@pytest.mark.skipif(not HAVE_SIMULATOR, reason="simulated SageMaker with StopTrainingJob not available")
def test_stale_row_gets_aws_error(client: Client, stopper: User, aws_env) -> None:
    """Our row says running, AWS says finished: AWS's refusal is reported as is."""
    with simulated_peer() as peer:
        job = peer.store(peer.finished[0])
        TrainingJob.objects.filter(pk=job.pk).update(status="InProgress")
        client.force_login(stopper)
        response = client.post(CHANGELIST, {**CONFIRM, "_selected_action": [job.pk]}, follow=True)
        [message] = _messages(response)
        assert message.startswith(f"{job.name}: AWS error: ValidationException: ")
        assert "status" in message
        assert peer.stop_calls() == 1


def test_stop_error_against_moto(client: Client, stopper: User, aws_env, settings) -> None:
    """moto speaks the protocol but has no StopTrainingJob: the error is reported, nothing breaks."""
    moto_server = pytest.importorskip("moto.server")
    settings.AWS_MAX_ATTEMPTS = 1
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        source = Source.objects.create(name="moto", region="us-east-1", endpoint_url=f"http://{host}:{port}")
        job = make_job("moto-job", status="InProgress", source=source)
        client.force_login(stopper)
        response = client.post(CHANGELIST, {**CONFIRM, "_selected_action": [job.pk]}, follow=True)
        [message] = _messages(response)
        assert message.startswith("moto-job: AWS error: ")
        job.refresh_from_db()
        assert job.status == "InProgress"
    finally:
        server.stop()


# --- permission, confirmation, GET, CSRF ------------------------------------


def test_staff_without_permission_cannot_stop(client: Client, editor: User, stop_calls: list[str]) -> None:
    job = make_job("live", status="InProgress")
    client.force_login(editor)
    actions = _actions(client)
    assert "sync_selected" in actions and "stop_selected" not in actions
    client.post(CHANGELIST, {**CONFIRM, "_selected_action": [job.pk]}, follow=True)
    assert stop_calls == []


def test_permission_grants_the_action(client: Client, stopper: User, owner: User) -> None:
    make_job()
    client.force_login(stopper)
    assert "stop_selected" in _actions(client)
    assert "sync_selected" not in _actions(client)  # syncing needs change permission
    client.force_login(owner)
    assert {"stop_selected", "sync_selected"} <= _actions(client)


def test_confirmation_page_lists_jobs_and_stops_nothing(client: Client, stopper: User, stop_calls: list[str]) -> None:
    live = make_job("live-<b>", status="InProgress")
    done = make_job("done")
    client.force_login(stopper)
    response = client.post(CHANGELIST, {**STOP, "_selected_action": [live.pk, done.pk]})
    body = response.content.decode()
    assert response.status_code == 200
    assert "live-&lt;b&gt;" in body and "live-<b>" not in body
    assert 'name="confirm" value="yes"' in body and "csrfmiddlewaretoken" in body
    assert f'name="_selected_action" value="{live.pk}"' in body
    assert "Yes, stop 1 job" in body
    assert stop_calls == []


def test_get_never_stops(client: Client, stopper: User, stop_calls: list[str]) -> None:
    job = make_job("live", status="InProgress")
    client.force_login(stopper)
    response = client.get(CHANGELIST, {**CONFIRM, "_selected_action": job.pk})
    # The action's fields in a query string are no list filter: refused (Django redirected).
    assert response.status_code == 400
    assert stop_calls == []


def test_post_without_csrf_is_rejected(stopper: User, stop_calls: list[str]) -> None:
    job = make_job("live", status="InProgress")
    client = Client(enforce_csrf_checks=True)
    client.force_login(stopper)
    response = client.post(CHANGELIST, {**CONFIRM, "_selected_action": [job.pk]})
    assert response.status_code == 403
    assert stop_calls == []
    # The same POST with the token goes through, so the 403 was the CSRF check.
    client.get(CHANGELIST)
    token = client.cookies["csrftoken"].value
    client.post(CHANGELIST, {**CONFIRM, "_selected_action": [job.pk], "csrfmiddlewaretoken": token})
    assert stop_calls == ["live"]


def test_only_running_jobs_get_the_call(client: Client, stopper: User, stop_calls: list[str]) -> None:
    jobs = [
        make_job("live", status="InProgress"),
        make_job("done"),
        make_job("failed", status="Failed"),
        make_job("stopped", status="Stopped"),
        make_job("stopping", status="InProgress"),
    ]
    TrainingJob.objects.filter(name="stopping").update(status="Stopping")
    client.force_login(stopper)
    response = client.post(CHANGELIST, {**CONFIRM, "_selected_action": [j.pk for j in jobs]}, follow=True)
    assert stop_calls == ["live"]
    messages = _messages(response)
    assert "live: stopped (StopTrainingJob accepted; reading the job back failed)." in messages
    assert "done: already Completed, skipped." in messages
    assert "failed: already Failed, skipped." in messages
    assert "stopped: already Stopped, skipped." in messages
    assert "stopping: already stopping, skipped." in messages


def test_stop_is_capped(client: Client, owner: User, stop_calls: list[str]) -> None:
    from jobs.admin import ACTION_CAP

    ids = [make_job(f"j-{i}", status="InProgress").pk for i in range(ACTION_CAP + 1)]
    client.force_login(owner)
    response = client.post(CHANGELIST, {**CONFIRM, "_selected_action": ids}, follow=True)
    assert any(f"at most {ACTION_CAP}" in m for m in _messages(response))
    assert stop_calls == []
