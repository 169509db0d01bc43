"""Jobs their source no longer knows: counted, marked gone, out of "running" and of the describes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
import time_machine
from django.test import Client

from jobs import ingest, sagemaker, sync
from jobs.domain import billing
from jobs.domain.parse import parse_summary, parse_training_job
from jobs.models import InstancePrice, TrainingJob
from jobs.status import status_figures
from tests.factories import T0, describe_response, make_job, make_source

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("describe_only")]

NOW = T0 + timedelta(hours=3)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def aws():
    """describe_job answers from ``responses``; a name missing from it is not found, as AWS says it.

    ListTrainingJobs lists nothing new.
    """
    responses: dict = {}

    def describe(config, name):
        if name not in responses:
            raise sagemaker.NotFound("Requested resource not found.", code="ValidationException")
        return responses[name]

    with (
        mock.patch.object(sagemaker, "describe_job", side_effect=describe),
        mock.patch.object(sagemaker, "list_tags", return_value={"team": "x"}),
        mock.patch.object(sagemaker, "list_changed_pages", side_effect=lambda config, since: iter([[]])),
    ):
        yield responses


def _counts(name: str) -> tuple[int, bool]:
    job = TrainingJob.objects.get(name=name)
    return job.not_found_count, job.gone_at is not None


def test_not_found_describes_are_counted_and_the_nth_marks_the_job_gone(source, aws, settings):
    settings.TRAINWATCH_GONE_AFTER = 3
    make_job("ghost", status="InProgress")
    for expected in (1, 2):
        sync.describe_chunk(source, ["ghost"], cycle_id=None)
        assert _counts("ghost") == (expected, False)
    sync.describe_chunk(source, ["ghost"], cycle_id=None)
    assert _counts("ghost") == (3, True)
    assert TrainingJob.objects.get(name="ghost").gone_at == NOW
    # Once gone, further not-found answers change nothing.
    sync.describe_chunk(source, ["ghost"], cycle_id=None)
    assert _counts("ghost") == (3, True)


def test_a_describe_that_finds_the_job_starts_the_count_again(source, aws, settings):
    settings.TRAINWATCH_GONE_AFTER = 3
    make_job("flaky", status="InProgress")
    sync.describe_chunk(source, ["flaky"], cycle_id=None)
    sync.describe_chunk(source, ["flaky"], cycle_id=None)
    assert _counts("flaky") == (2, False)
    aws["flaky"] = describe_response("flaky", status="InProgress")
    sync.describe_chunk(source, ["flaky"], cycle_id=None)
    assert _counts("flaky") == (0, False)
    # Not consecutive any more: two more misses are still not three in a row.
    del aws["flaky"]
    sync.describe_chunk(source, ["flaky"], cycle_id=None)
    sync.describe_chunk(source, ["flaky"], cycle_id=None)
    assert _counts("flaky") == (2, False)


def test_the_count_is_configurable(source, aws, settings):
    settings.TRAINWATCH_GONE_AFTER = 1
    make_job("ghost", status="InProgress")
    sync.describe_chunk(source, ["ghost"], cycle_id=None)
    assert _counts("ghost") == (1, True)


def test_a_gone_job_found_again_is_no_longer_gone(source, aws, settings):
    settings.TRAINWATCH_GONE_AFTER = 1
    make_job("back", status="InProgress")
    sync.describe_chunk(source, ["back"], cycle_id=None)
    assert _counts("back") == (1, True)
    # Described again (the admin's "sync now", say) and found: it is known again.
    aws["back"] = describe_response("back", status="Completed")
    sync.describe_chunk(source, ["back"], cycle_id=None)
    assert _counts("back") == (0, False)


def test_a_gone_job_listed_as_changed_is_due_again(source, aws, settings):
    settings.TRAINWATCH_GONE_AFTER = 1
    job = make_job("back", status="InProgress")
    sync.describe_chunk(source, ["back"], cycle_id=None)
    assert not source.jobs.needing_describe().filter(name="back").exists()
    summary = {
        "TrainingJobName": "back",
        "TrainingJobArn": job.arn,
        "CreationTime": job.creation_time,
        "LastModifiedTime": NOW,
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Training",
    }
    ingest.upsert_summaries(source, [parse_summary(summary)])
    assert _counts("back") == (0, False)
    assert source.jobs.needing_describe().filter(name="back").exists()


def test_only_the_sources_own_job_of_that_name_is_counted(source, aws, settings):
    settings.TRAINWATCH_GONE_AFTER = 1
    other = make_source("other")
    make_job("same", status="InProgress")
    other_arn = "arn:aws:sagemaker:eu-west-1:1:training-job/same"
    raw = describe_response("same", status="InProgress", TrainingJobArn=other_arn)
    ingest.store_description(other, parse_training_job(raw), raw, now=NOW)
    sync.describe_chunk(source, ["same"], cycle_id=None)
    assert sorted(TrainingJob.objects.values_list("source__name", "gone_at")) == [("default", NOW), ("other", None)]


def test_a_gone_job_leaves_running_and_the_describes(source, aws, settings):
    settings.TRAINWATCH_GONE_AFTER = 2
    make_job("ghost", status="InProgress")
    make_job("alive", status="InProgress")
    aws["alive"] = describe_response("alive", status="InProgress")
    for _ in range(2):
        cycle = sync.run_cycle(source, now=NOW)
    assert cycle.queued == 2
    assert list(TrainingJob.objects.running().values_list("name", flat=True)) == ["alive"]
    assert sorted(TrainingJob.objects.unfinished().values_list("name", flat=True)) == ["alive", "ghost"]
    assert list(source.jobs.needing_describe().values_list("name", flat=True)) == ["alive"]
    sagemaker.describe_job.reset_mock()
    cycle = sync.run_cycle(source, now=NOW)
    assert cycle.queued == 1
    assert [c.args[1] for c in sagemaker.describe_job.call_args_list] == ["alive"]
    assert source.jobs.gone().count() == 1
    assert TrainingJob.objects.get(name="ghost").status == "InProgress"  # the last status seen, kept


def test_a_gone_job_is_billed_to_its_last_describe_not_to_now(source, aws, settings):
    settings.TRAINWATCH_GONE_AFTER = 1
    # Described at T0 + 35 min, 30 min into training on two instances; gone since.
    make_job("ghost", status="InProgress", now=T0 + timedelta(minutes=35))
    sync.describe_chunk(source, ["ghost"], cycle_id=None)
    job = TrainingJob.objects.get(name="ghost")
    billed = job.billed_time(NOW)
    assert billed.basis == billing.LAST_SEEN and billed.seconds == 2 * 1800
    assert job.billable_seconds_now(NOW) == 2 * 1800


def test_status_page_leaves_gone_jobs_out_of_running_and_says_so_per_source(logged_in, aws, settings, source):
    settings.TRAINWATCH_GONE_AFTER = 1
    InstancePrice.objects.update_or_create(instance_type="ml.p3.2xlarge", defaults={"hourly_usd": Decimal("3")})
    make_job("ghost", status="InProgress", created=NOW - timedelta(hours=1), now=NOW - timedelta(minutes=25))
    make_job("alive", status="InProgress", created=NOW - timedelta(hours=1))
    sync.describe_chunk(source, ["ghost"], cycle_id=None)
    figures = status_figures(NOW)
    assert [r["name"] for r in figures["running"]] == ["alive"] and figures["running_count"] == 1
    assert figures["sources"][0]["gone_jobs"] == 1
    # Spend: the ghost counts to its last describe (30 min on two instances), the live job to now.
    assert figures["spend"]["today"]["billable_seconds"] == 2 * 1800 + 2 * 3300
    html = logged_in.get("/status/").content.decode()
    assert "1 job gone at the source" in html
    assert "ghost" not in html


def test_pages_api_and_admin_show_a_gone_job_as_such(logged_in, aws, settings, source, owner):
    settings.TRAINWATCH_GONE_AFTER = 1
    make_job("ghost", status="InProgress")
    make_job("alive", status="InProgress", created=T0 + timedelta(minutes=1))
    sync.describe_chunk(source, ["ghost"], cycle_id=None)
    ghost = TrainingJob.objects.get(name="ghost")

    response = logged_in.get("/")
    rows = {r.job.name: r for r in response.context["rows"]}
    assert not rows["ghost"].running and rows["alive"].running
    page = response.content.decode()
    html = {name: _row_html(page, row.job.pk) for name, row in rows.items()}
    assert html["ghost"].count("gone at source") == 1 and "gone at source" not in html["alive"]
    assert 'data-running="1"' not in html["ghost"] and 'data-running="1"' in html["alive"]
    refreshed = logged_in.get("/jobs/rows/", {"ids": f"{ghost.pk}"}).json()["rows"]
    assert refreshed[0]["html"].count("gone at source") == 1

    detail = logged_in.get(f"/jobs/{ghost.pk}/").content.decode()
    assert "gone at source" in detail

    api = Client()
    api.force_login(owner)
    listed = {row["name"]: row for row in api.get("/api/jobs/").json()["results"]}
    assert listed["ghost"]["gone_at_source"] is True and listed["alive"]["gone_at_source"] is False
    assert api.get(f"/api/jobs/{ghost.pk}/").json()["gone_at"] == "2026-11-20T15:00:00Z"

    changelist = api.get("/admin/jobs/trainingjob/", {"gone_at__isempty": "0"}).content.decode()
    assert "ghost" in changelist and ">alive<" not in changelist
    change = api.get(f"/admin/jobs/trainingjob/{ghost.pk}/change/").content.decode()
    assert "Gone at source" in change and "Not found count" in change


def _row_html(page: str, pk: int) -> str:
    """The jobs table's <tr> of one job, as the page sent it."""
    start = page.index(f'<tr id="job-{pk}"')
    return page[start : page.index("</tr>", start)]
