"""The sync cycle over real HTTP against moto's SageMaker server."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from jobs import sync
from jobs.models import Source, SyncError, TrainingJob, sync_lease_seconds
from tests.integration.conftest import create_job, naive_utc

pytestmark = pytest.mark.django_db


def make_running(moto_jobs, name: str, started: datetime) -> None:
    job = moto_jobs[name]
    job.training_job_status = "InProgress"
    job.secondary_status = "Training"
    job.training_start_time = naive_utc(started)
    job.training_end_time = None
    job.final_metric_data_list = []
    job.secondary_status_transitions = [
        {"Status": "Starting", "StartTime": naive_utc(started - timedelta(minutes=3)), "EndTime": naive_utc(started)},
        {"Status": "Training", "StartTime": naive_utc(started), "StatusMessage": "Training in progress."},
    ]
    job.last_modified_time = naive_utc(started)


def make_failed(moto_jobs, name: str, at: datetime, reason: str) -> None:
    job = moto_jobs[name]
    job.training_job_status = "Failed"
    job.secondary_status = "Failed"
    job.failure_reason = reason
    job.training_end_time = naive_utc(at)
    job.secondary_status_transitions = [
        *job.secondary_status_transitions[:1],
        {"Status": "Training", "StartTime": job.training_start_time, "EndTime": naive_utc(at)},
        {
            "Status": "Failed",
            "StartTime": naive_utc(at),
            "EndTime": naive_utc(at),
            "StatusMessage": "Training job failed",
        },
    ]
    job.last_modified_time = naive_utc(at)


@pytest.fixture(autouse=True)
def describe_path(settings):
    """These tests follow the DescribeTrainingJob path; Search has its own below."""
    settings.TRAINWATCH_SEARCH = False


def _stored() -> dict[str, tuple]:
    return {
        job.name: (
            job.status,
            job.secondary_status,
            job.instance_count,
            job.tags,
            job.hyperparameters,
            job.billable_seconds,
            [(t.status, t.start_time) for t in job.transitions.all()],
            sorted((m.name, m.value) for m in job.metrics.all()),
        )
        for job in TrainingJob.objects.prefetch_related("transitions", "metrics")
    }


def test_search_imports_what_describe_would_in_fewer_calls(moto_source, sm_client, aws_calls, settings):
    for i in range(12):
        create_job(sm_client, f"job-{i:02d}", instance_count=2, tags={"team": "vision", "project": f"p{i % 3}"})
    sync.run_cycle(moto_source)
    described = _stored()
    TrainingJob.objects.all().delete()
    Source.objects.filter(pk=moto_source.pk).update(list_cursor=None)
    moto_source.refresh_from_db()
    aws_calls.clear()

    settings.TRAINWATCH_SEARCH = True
    cycle = sync.run_cycle(moto_source)

    assert _stored() == described
    # moto ignores Operator "Or" (AWS does not): the names Search did not
    # return were described one by one, which is what must happen then.
    assert aws_calls["Search"] == 1 and aws_calls["DescribeTrainingJob"] == 12
    assert cycle.described == 12


def test_running_jobs_are_refreshed_by_status_search(moto_source, sm_client, moto_jobs, aws_calls, settings):
    settings.TRAINWATCH_SEARCH = True
    create_job(sm_client, "done")
    started = datetime.now(UTC) - timedelta(minutes=30)
    for name in ("run-a", "run-b"):
        create_job(sm_client, name, instance_count=2, tags={"team": "nlp"})
        make_running(moto_jobs, name, started)
    sync.run_cycle(moto_source)
    aws_calls.clear()
    moto_jobs["run-a"].secondary_status = "Uploading"
    moto_jobs["run-a"].last_modified_time = naive_utc(datetime.now(UTC))

    cycle = sync.run_cycle(moto_source)

    assert aws_calls["Search"] == 1
    assert aws_calls["DescribeTrainingJob"] == 0 and aws_calls["ListTags"] == 0
    assert cycle.queued == 0 and cycle.described == 2
    assert TrainingJob.objects.get(name="run-a").secondary_status == "Uploading"
    assert TrainingJob.objects.get(name="run-b").tags == {"team": "nlp"}


def test_first_cycle_imports_every_job_with_detail(moto_source, sm_client, moto_jobs, aws_calls):
    for i in range(12):
        create_job(sm_client, f"job-{i:02d}", instance_count=2, tags={"team": "vision", "project": f"p{i % 3}"})
    cycle = sync.run_cycle(moto_source)
    assert cycle.error == ""
    assert cycle.listed == 12
    assert cycle.described == 12
    assert TrainingJob.objects.count() == 12
    job = TrainingJob.objects.get(name="job-03")
    assert job.status == "Completed"
    assert job.instance_count == 2
    assert job.tags == {"team": "vision", "project": "p0"}
    assert job.transitions.count() == 1
    assert job.metrics.get(name="train:progress").value == 100.0
    assert job.hyperparameters == {"epochs": "3"}
    assert aws_calls["DescribeTrainingJob"] == 12
    assert aws_calls["ListTags"] == 12


def test_second_cycle_with_nothing_changed_describes_nothing(moto_source, sm_client, aws_calls):
    for i in range(5):
        create_job(sm_client, f"job-{i}")
    sync.run_cycle(moto_source)
    aws_calls.clear()
    cycle = sync.run_cycle(moto_source)
    assert cycle.described == 0
    assert aws_calls["DescribeTrainingJob"] == 0
    assert aws_calls["ListTags"] == 0
    assert aws_calls["ListTrainingJobs"] == 1


def test_running_then_failed_job_is_followed(moto_source, sm_client, moto_jobs, aws_calls):
    create_job(sm_client, "done")
    create_job(sm_client, "flaky", instance_count=3)
    started = datetime.now(UTC) - timedelta(minutes=30)
    make_running(moto_jobs, "flaky", started)
    sync.run_cycle(moto_source)
    flaky = TrainingJob.objects.get(name="flaky")
    assert flaky.status == "InProgress"
    assert flaky.billable_seconds_now() >= 3 * 30 * 60

    aws_calls.clear()
    sync.run_cycle(moto_source)
    # Only the running job is described again; the terminal one is left alone.
    assert aws_calls["DescribeTrainingJob"] == 1

    failed_at = started + timedelta(minutes=40)
    make_failed(moto_jobs, "flaky", failed_at, "AlgorithmError: <b>boom</b> exit code 1")
    sync.run_cycle(moto_source)
    flaky.refresh_from_db()
    assert flaky.status == "Failed"
    assert flaky.failure_reason == "AlgorithmError: <b>boom</b> exit code 1"
    assert flaky.billable_seconds == 3 * 40 * 60
    assert [t.status for t in flaky.transitions.all()] == ["Starting", "Training", "Failed"]


def test_malformed_describe_is_recorded_and_leaves_the_row_untouched(moto_source, sm_client, moto_jobs):
    create_job(sm_client, "steady")
    create_job(sm_client, "steady-running")
    make_running(moto_jobs, "steady-running", datetime.now(UTC) - timedelta(minutes=5))
    sync.run_cycle(moto_source)
    before = TrainingJob.objects.get(name="steady-running")

    moto_jobs["steady-running"].training_job_status = None  # a required member goes missing
    cycle = sync.run_cycle(moto_source)
    # Both the list summary and the describe lack it: each is recorded.
    assert cycle.errors == 2
    errors = SyncError.objects.order_by("message")
    assert {(e.job_name, e.kind) for e in errors} == {("steady-running", "malformed")}
    assert all("TrainingJobStatus" in e.message for e in errors)
    assert errors[0].message.startswith("DescribeTrainingJob")
    after = TrainingJob.objects.get(name="steady-running")
    assert (after.status, after.described_at, after.raw) == (before.status, before.described_at, before.raw)
    assert after.transitions.count() == 2


def test_sync_jobs_command_fills_the_database(moto_url, sm_client, moto_jobs, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", moto_url)
    create_job(sm_client, "cmd-ok")
    create_job(sm_client, "cmd-failed", instance_count=2)
    create_job(sm_client, "cmd-started")
    make_running(moto_jobs, "cmd-failed", datetime.now(UTC) - timedelta(hours=2))
    make_failed(moto_jobs, "cmd-failed", datetime.now(UTC) - timedelta(hours=1), "ClientError: no such key")
    call_command("sync_jobs")
    out = capsys.readouterr().out
    assert "listed 3" in out
    assert Source.objects.get().name == "default"
    failed = TrainingJob.objects.get(name="cmd-failed")
    assert failed.failure_reason == "ClientError: no such key"
    assert failed.billable_seconds == 2 * 3600
    assert TrainingJob.objects.count() == 3


def test_sync_jobs_command_fails_clearly_when_aws_is_unreachable(aws_env, db, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(CommandError, match="Sync failed for: default"):
        call_command("sync_jobs")
    source = Source.objects.get()
    assert "cannot reach SageMaker" in source.last_error
    assert source.list_cursor is None


def test_sync_jobs_command_fails_clearly_without_credentials(db, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", "http://127.0.0.1:9")
    from jobs import sagemaker

    sagemaker.reset_clients()
    with pytest.raises(CommandError):
        call_command("sync_jobs")
    assert "credentials" in Source.objects.get().last_error.lower()


def test_cycles_do_not_overlap_on_one_source(moto_source):
    now = datetime.now(UTC)
    lease = sync_lease_seconds()
    assert sync.claim_source(moto_source.pk, now=now)
    assert not sync.claim_source(moto_source.pk, now=now + timedelta(seconds=lease - 1))
    # A lease left by a dead worker expires.
    assert sync.claim_source(moto_source.pk, now=now + timedelta(seconds=lease + 1))
    sync.release_source(moto_source.pk)
    assert sync.claim_source(moto_source.pk, now=now)


def test_queued_describes_are_not_queued_again_until_overdue(moto_source, sm_client, moto_jobs, settings):
    create_job(sm_client, "slow-1")
    make_running(moto_jobs, "slow-1", datetime.now(UTC) - timedelta(minutes=5))
    queued: list[list[str]] = []
    now = datetime.now(UTC) - timedelta(seconds=settings.TRAINWATCH_DESCRIBE_TIMEOUT_SECONDS + 100)

    sync.run_cycle(moto_source, dispatch=lambda cycle, names: queued.append(names), now=now)
    # The task has not run yet (a backlog): the next cycle leaves it alone...
    sync.run_cycle(moto_source, dispatch=lambda cycle, names: queued.append(names), now=now + timedelta(seconds=60))
    # ...until it is overdue and taken as lost.
    overdue = now + timedelta(seconds=settings.TRAINWATCH_DESCRIBE_TIMEOUT_SECONDS + 1)
    sync.run_cycle(moto_source, dispatch=lambda cycle, names: queued.append(names), now=overdue)
    assert queued == [["slow-1"], [], ["slow-1"]]

    # Once described, a running job is due again on the very next cycle.
    sync.describe_and_store(moto_source, "slow-1", cycle_id=None)
    sync.run_cycle(moto_source, dispatch=lambda cycle, names: queued.append(names))
    assert queued[-1] == ["slow-1"]
