"""The admin: read-only job mirror, health lists, editable prices, sync action."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import time_machine
from celery import current_app
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.utils import timezone
from kombu.exceptions import OperationalError

from jobs import broker, metrics, sagemaker, sync, tasks
from jobs.admin import ACTION_CAP, TRANSITIONS_SHOWN
from jobs.models import InstancePrice, StatusTransition, SyncCycle, SyncError, SyncErrorKind, TrainingJob
from tests.factories import T0, describe_response, make_job, make_source

# These patch describe_job at our wrapper: the describe path, without Search.
pytestmark = pytest.mark.usefixtures("describe_only")

CHANGELIST = "/admin/jobs/trainingjob/"


@pytest.fixture
def admin_client(client: Client, owner: User) -> Client:
    client.force_login(owner)
    return client


@pytest.fixture
def viewer(db) -> User:
    """Staff who may look at jobs but not change or stop them."""
    user = User.objects.create_user("viewer", "viewer@example.org", "password", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_trainingjob"))
    return user


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- job list and page ------------------------------------------------------


@pytest.mark.parametrize("size", [2, 15])
def test_changelist_queries_are_constant(admin_client: Client, django_assert_num_queries, size: int) -> None:
    for i in range(size):
        make_job(f"job-{i}", status="InProgress" if i % 2 else "Completed", created=T0 + timedelta(minutes=i))
    # session, user, sources (filter), COUNT, the page,
    # status/secondary/instance-type filter choices
    with django_assert_num_queries(8):
        response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert response.content.count(b'class="tw-badge') == size


def test_changelist_columns(admin_client: Client) -> None:
    make_job("resnet", status="Failed")
    body = admin_client.get(CHANGELIST).content.decode()
    assert "resnet" in body
    assert '<span class="tw-badge tw-failed">Failed</span>' in body
    assert "ml.p3.2xlarge x 2" in body
    assert "2.0 h" in body  # billable: an hour on two instances
    # Its cost is priced from AWS's BillableTimeInSeconds, and the column says so.
    assert "Cost basis" in body and '">AWS</span>' in body
    # No full-table COUNT link ("N total") with show_full_result_count off.
    assert "total)" not in body


def test_creation_date_filter_runs_no_query_of_its_own(admin_client: Client, django_assert_num_queries) -> None:
    # Django's date filter: fixed links (today, past 7 days, this month, this
    # year), where the date hierarchy read every distinct date in range.
    make_job("today", created=T0)
    make_job("last-week", created=T0 - timedelta(days=5))
    make_job("last-year", created=T0.replace(year=2025))
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        response = admin_client.get(CHANGELIST)
        spec = next(s for s in response.context["cl"].filter_specs if s.field_path == "creation_time")
        links = {choice["display"]: choice["query_string"] for choice in spec.choices(response.context["cl"])}
        assert set(links) == {"Any date", "Today", "Past 7 days", "This month", "This year"}

        def names(link: str) -> list[str]:
            return [job.name for job in admin_client.get(CHANGELIST + link).context["cl"].result_list]

        assert names(links["Today"]) == ["today"]
        assert names(links["Past 7 days"]) == ["today", "last-week"]
        assert names(links["This year"]) == ["today", "last-week"]
        assert names(links["Any date"]) == ["today", "last-week", "last-year"]
        assert "creation_time__year" not in response.content.decode()


def test_changelist_filters_and_search(admin_client: Client) -> None:
    make_job("ok-job")
    make_job("oom-job", status="Failed")
    make_job(
        "spot-job", EnableManagedSpotTraining=True, ResourceConfig={"InstanceType": "ml.g5.xlarge", "InstanceCount": 1}
    )

    def names(**query) -> set[str]:
        response = admin_client.get(CHANGELIST, query)
        assert response.status_code == 200
        return {job.name for job in response.context["cl"].result_list}

    assert names() == {"ok-job", "oom-job", "spot-job"}
    assert names(status="Failed") == {"oom-job"}
    assert names(secondary_status="Completed") == {"ok-job", "spot-job"}
    assert names(instance_type="ml.g5.xlarge") == {"spot-job"}
    assert names(is_spot__exact="1") == {"spot-job"}
    assert names(source__id__exact=str(TrainingJob.objects.first().source_id)) == {"ok-job", "oom-job", "spot-job"}
    assert names(q="CUDA out of memory") == {"oom-job"}
    assert names(q="spot") == {"spot-job"}
    assert names(creation_time__gte="2026-11-01T00:00Z", creation_time__lt="2026-12-01T00:00Z") == {
        "ok-job",
        "oom-job",
        "spot-job",
    }
    assert names(creation_time__gte="2026-12-01T00:00Z") == set()


@pytest.mark.parametrize("restarts", [0, 8])
def test_change_page_queries_are_constant(admin_client: Client, django_assert_num_queries, restarts: int) -> None:
    transitions = [
        {"Status": "Starting", "StartTime": T0 + timedelta(minutes=i), "EndTime": T0 + timedelta(minutes=i, seconds=9)}
        for i in range(restarts)
    ]
    metrics = [{"MetricName": f"m{i}", "Value": float(i)} for i in range(restarts)]
    job = make_job(SecondaryStatusTransitions=transitions or None, FinalMetricDataList=metrics)
    ContentType.objects.get_for_model(TrainingJob)  # process-wide cache; warm it so both sizes start equal
    # session, user, job+source, transitions, metrics
    with django_assert_num_queries(5):
        response = admin_client.get(f"{CHANGELIST}{job.pk}/change/")
    assert response.status_code == 200
    transitions_inline, metrics_inline = response.context["inline_admin_formsets"]
    assert len(metrics_inline.formset.forms) == restarts
    assert len(transitions_inline.formset.forms) == restarts


def test_change_page_is_read_only(admin_client: Client) -> None:
    job = make_job("resnet", status="Failed", FailureReason="<b>boom</b>")
    response = admin_client.get(f"{CHANGELIST}{job.pk}/change/")
    body = response.content.decode()
    assert response.context["adminform"].form.fields == {}
    assert 'name="_save"' not in body
    assert "&lt;b&gt;boom&lt;/b&gt;" in body and "<b>boom</b>" not in body
    assert "Preparing the instances" in body  # transitions inline
    assert "Cost basis" in body and "AWS&#x27;s BillableTimeInSeconds" in body
    assert "validation:accuracy" not in body  # failed jobs have no final metrics here
    admin_client.post(f"{CHANGELIST}{job.pk}/change/", {"name": "renamed", "status": "Completed"})
    job.refresh_from_db()
    assert (job.name, job.status) == ("resnet", "Failed")


def test_no_add_or_delete(admin_client: Client) -> None:
    job = make_job()
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    assert admin_client.get(f"{CHANGELIST}{job.pk}/delete/").status_code == 403
    actions = dict(admin_client.get(CHANGELIST).context["action_form"].fields["action"].choices)
    assert "delete_selected" not in actions
    assert set(actions) == {"", "sync_selected", "stop_selected"}


def test_plain_user_is_sent_to_login(client: Client, teammate: User) -> None:
    client.force_login(teammate)
    response = client.get(CHANGELIST)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_viewer_sees_jobs_without_actions(client: Client, viewer: User) -> None:
    make_job()
    client.force_login(viewer)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert response.context["action_form"] is None or not response.context["cl"].actions


# --- other models -----------------------------------------------------------


def test_sources_and_sync_history(admin_client: Client, source) -> None:
    source.last_error = "ListTrainingJobs failed: ThrottlingException"
    source.save()
    # Health is judged against now: synced just now is fresh.
    synced = timezone.now()
    make_source("healthy", last_sync_finished_at=synced, last_success_at=synced)
    make_source("fresh")
    # Its last cycle started an hour ago and never finished: the worker died.
    make_source(
        "abandoned",
        last_success_at=synced - timedelta(hours=2),
        last_sync_started_at=synced - timedelta(hours=1),
        last_sync_finished_at=synced - timedelta(hours=2),
    )
    cycle = SyncCycle.objects.create(source=source, listed=3, described=2, errors=1)
    SyncError.objects.create(source=source, cycle=cycle, job_name="j1", kind="throttled", message="Rate exceeded")

    body = admin_client.get("/admin/jobs/source/").content.decode()
    assert "failing" in body and "ThrottlingException" in body
    assert ">ok<" in body and "never synced" in body
    assert ">unfinished cycle<" in body
    assert admin_client.get("/admin/jobs/synccycle/").status_code == 200
    body = admin_client.get("/admin/jobs/syncerror/", {"kind__exact": "throttled"}).content.decode()
    assert "Rate exceeded" in body
    for model in ("synccycle", "syncerror"):
        assert admin_client.get(f"/admin/jobs/{model}/add/").status_code == 403
    page = admin_client.get(f"/admin/jobs/synccycle/{cycle.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()


def test_sync_error_kinds_are_choices(admin_client: Client, source) -> None:
    # Every kind the sync records is one of SyncErrorKind's, so the admin filters and labels each.
    codes = ("ThrottlingException", sagemaker.UNREADABLE, "ValidationException")
    kinds = {SyncErrorKind.THROTTLED, SyncErrorKind.MALFORMED, SyncErrorKind.AWS}
    assert {sync._error_kind(code) for code in codes} == kinds
    sync.record_error(source, None, "poison", SyncErrorKind.UNEXPECTED, "the database refused it")
    response = admin_client.get("/admin/jobs/syncerror/")
    body = response.content.decode()
    for kind in SyncErrorKind:
        assert f"?kind__exact={kind.value}" in body and kind.label in body
    assert '<td class="field-kind">Refused by the database</td>' in body
    assert SyncError.objects.get().kind == SyncErrorKind.UNEXPECTED


def test_prices_are_editable(admin_client: Client) -> None:
    price = InstancePrice.objects.get(instance_type="ml.g5.xlarge")
    response = admin_client.post(
        f"/admin/jobs/instanceprice/{price.pk}/change/",
        {"instance_type": "ml.g5.xlarge", "hourly_usd": "1.5000", "note": "negotiated rate"},
    )
    assert response.status_code == 302
    price.refresh_from_db()
    assert str(price.hourly_usd) == "1.5000" and price.note == "negotiated rate"


# --- sync action ------------------------------------------------------------


@pytest.fixture
def describe_queue(settings) -> Iterator[Callable[[], list[tuple[str, list]]]]:
    """The describe tasks waiting on the real Redis broker, as (task name, args); empty before and after."""
    assert not current_app.conf.task_always_eager  # tasks are sent, not run here
    redis = broker.connection()
    queue = metrics.describe_queue()
    keys = [queue, *(f"{queue}{metrics._PRIORITY_SEPARATOR}{p}" for p in metrics._PRIORITY_STEPS[1:])]
    redis.delete(*keys, metrics.AWS_CALLS_KEY, metrics.AWS_ERRORS_KEY)

    def sent() -> list[tuple[str, list]]:
        messages = [json.loads(raw) for raw in reversed(redis.lrange(queue, 0, -1))]  # LPUSHed: oldest last
        return [(m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[0]) for m in messages]

    yield sent
    redis.delete(*keys)


def test_sync_selected_queues_the_describe_task(
    admin_client: Client, describe_queue, aws_env, settings, django_assert_max_num_queries
) -> None:
    # An endpoint that refuses every connection: a describe in the request would fail (and be recorded).
    settings.AWS_MAX_ATTEMPTS = 1
    here = make_source("here", endpoint_url="http://127.0.0.1:1")
    there = make_source("there", endpoint_url="http://127.0.0.1:1")
    jobs = [make_job(f"here-{i}", status="InProgress", source=here) for i in range(sync.DESCRIBE_CHUNK + 1)]
    jobs.append(make_job("there-0", status="InProgress", source=there))
    with django_assert_max_num_queries(12):
        response = admin_client.post(
            CHANGELIST, {"action": "sync_selected", "_selected_action": [job.pk for job in jobs]}
        )
    assert response.status_code == 302
    messages = _messages(admin_client.get(CHANGELIST))
    assert messages == [
        f"Queued {len(jobs)} jobs to be described; each row updates when a worker has described it "
        "(failures go to sync errors)."
    ]
    names = [f"here-{i}" for i in range(sync.DESCRIBE_CHUNK + 1)]
    assert describe_queue() == [
        ("jobs.tasks.describe_jobs", [here.pk, names[: sync.DESCRIBE_CHUNK], None]),
        ("jobs.tasks.describe_jobs", [here.pk, names[sync.DESCRIBE_CHUNK :], None]),
        ("jobs.tasks.describe_jobs", [there.pk, ["there-0"], None]),
    ]
    # Nothing reached for AWS in the request: no call counted, no error recorded, rows as they were.
    assert broker.connection().hgetall(metrics.AWS_CALLS_KEY) == {}
    assert not SyncError.objects.exists()
    assert set(TrainingJob.objects.values_list("status", flat=True)) == {"InProgress"}


def test_queued_describe_stores_what_aws_says(admin_client: Client, describe_queue, monkeypatch) -> None:
    # What the action queues is the sync's describe: run it as a worker would.
    ok = make_job("ok-job", status="InProgress")
    gone = make_job("gone-job", status="InProgress")

    def describe(config, name):
        if name == "gone-job":
            raise sagemaker.NotFound("Requested resource not found", code="ValidationException")
        return describe_response(name, status="Completed")

    monkeypatch.setattr(sagemaker, "describe_job", describe)
    monkeypatch.setattr(sagemaker, "list_tags", lambda config, arn: {"team": "vision"})
    admin_client.post(CHANGELIST, {"action": "sync_selected", "_selected_action": [ok.pk, gone.pk]})
    ((task, args),) = describe_queue()
    assert args == [ok.source_id, ["ok-job", "gone-job"], None]
    current_app.tasks[task].apply(args=args)
    ok.refresh_from_db()
    assert ok.status == "Completed"
    assert SyncError.objects.filter(job_name="gone-job").exists()


def test_sync_selected_reports_a_broker_that_does_not_answer(admin_client: Client, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.describe_jobs, "apply_async", refuse)
    job = make_job()
    response = admin_client.post(CHANGELIST, {"action": "sync_selected", "_selected_action": [job.pk]}, follow=True)
    assert _messages(response) == [
        "The task queue did not answer, nothing was queued: Error 111 connecting to 127.0.0.1:6379. Connection refused."
    ]


def test_sync_selected_is_capped(admin_client: Client, describe_queue) -> None:
    ids = [make_job(f"j-{i}").pk for i in range(ACTION_CAP + 1)]
    response = admin_client.post(CHANGELIST, {"action": "sync_selected", "_selected_action": ids}, follow=True)
    assert any(f"at most {ACTION_CAP}" in m for m in _messages(response))
    assert describe_queue() == []


# --- transitions ------------------------------------------------------------


@pytest.fixture
def restart_loop(db) -> TrainingJob:
    """A job that restarted thousands of times: 10,000 transitions."""
    job = make_job("restart-loop", status="InProgress")
    job.transitions.all().delete()
    StatusTransition.objects.bulk_create(
        StatusTransition(
            job=job, position=i, status="Starting" if i % 2 else "Training", start_time=T0 + timedelta(seconds=i)
        )
        for i in range(10_000)
    )
    return job


def test_change_page_shows_the_last_transitions_and_links_to_all(
    admin_client: Client, restart_loop: TrainingJob, django_assert_num_queries
) -> None:
    ContentType.objects.get_for_model(TrainingJob)
    # session, user, job+source, the last 50 transitions, their count, metrics
    with django_assert_num_queries(6):
        response = admin_client.get(f"{CHANGELIST}{restart_loop.pk}/change/")
    assert response.status_code == 200
    transitions_inline = response.context["inline_admin_formsets"][0]
    shown = [form.instance.position for form in transitions_inline.formset.forms]
    assert shown == list(range(10_000 - TRANSITIONS_SHOWN, 10_000))  # the last ones, in order
    body = response.content.decode()
    assert body.count('<tr class="form-row') == TRANSITIONS_SHOWN
    link = f"/admin/jobs/statustransition/?job__id__exact={restart_loop.pk}"
    assert f'<a href="{link}">all 10,000 transitions</a>' in body


def test_few_transitions_have_no_link(admin_client: Client) -> None:
    job = make_job()
    body = admin_client.get(f"{CHANGELIST}{job.pk}/change/").content.decode()
    assert "Preparing the instances" in body and 'class="tw-more"' not in body


def test_all_transitions_of_one_job(admin_client: Client, restart_loop: TrainingJob, django_assert_num_queries) -> None:
    other = make_job("other")
    url = "/admin/jobs/statustransition/"
    # session, user, the chosen job (filter), COUNT, the page with its jobs
    with django_assert_num_queries(5):
        response = admin_client.get(url, {"job__id__exact": restart_loop.pk})
    assert response.status_code == 200
    rows = response.context["cl"].result_list
    assert len(rows) == 100 and response.context["cl"].result_count == 10_000
    assert [t.position for t in rows] == list(range(9_999, 9_899, -1))  # newest first
    assert "restart-loop" in response.content.decode()
    by_name = admin_client.get(url, {"q": "other"}).context["cl"]
    assert {t.job_id for t in by_name.result_list} == {other.pk} and by_name.result_count == 3
    assert admin_client.get(url, {"job__name": "x"}).status_code == 400
    assert admin_client.get(f"{url}add/").status_code == 403
    page = admin_client.get(f"{url}{rows[0].pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
