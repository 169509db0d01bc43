"""sync_jobs: one cycle per source under the same lease as the Celery task; unfinished cycles say so."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from jobs import sync
from jobs.models import Source, SyncCycle
from jobs.status import status_figures
from jobs.tasks import sync_source
from simulator import SimulatedSageMaker
from tests.factories import T0, make_source

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def sim(aws_env, settings) -> Iterator[SimulatedSageMaker]:
    settings.TRAINWATCH_DEFAULT_SOURCE = False
    settings.TRAINWATCH_LOOKBACK_DAYS = 60
    settings.AWS_MAX_ATTEMPTS = 1
    with SimulatedSageMaker(jobs=30, seed=3, speed=0, start=START) as sim:
        yield sim


@pytest.fixture
def sim_source(sim) -> Source:
    return Source.objects.create(name="sim", region="us-east-1", endpoint_url=sim.endpoint_url)


class OnFirstWrite(io.StringIO):
    """The command's output; its first line (written mid-cycle) runs ``action`` once."""

    def __init__(self, action) -> None:
        super().__init__()
        self.action = action
        self.result: object = None

    def write(self, text: str) -> int:
        if self.action is not None:
            action, self.action = self.action, None
            self.result = action()
        return super().write(text)


def test_a_second_sync_jobs_while_one_runs_skips_the_source(sim, sim_source):
    second_err = io.StringIO()

    def second_command() -> str:
        call_command("sync_jobs", "--source", "sim", stdout=io.StringIO(), stderr=second_err)
        return second_err.getvalue()

    out = OnFirstWrite(second_command)
    call_command("sync_jobs", "--source", "sim", stdout=out, stderr=io.StringIO())

    assert "sim: busy, another sync cycle holds its lease; skipped" in out.result
    assert SyncCycle.objects.count() == 1  # only the first ran a cycle
    assert "sim: listed 30" in out.getvalue()
    assert Source.objects.get(pk=sim_source.pk).sync_lease_until is None  # released when done


def test_the_celery_task_skips_a_source_sync_jobs_is_syncing(sim, sim_source):
    out = OnFirstWrite(lambda: sync_source(sim_source.pk))
    call_command("sync_jobs", "--source", "sim", stdout=out, stderr=io.StringIO())
    assert out.result == "skipped: another cycle holds the lease"
    assert SyncCycle.objects.count() == 1


def test_sync_jobs_skips_a_source_the_celery_task_holds(sim, sim_source):
    assert sync.claim_source(sim_source.pk, now=timezone.now())
    err = io.StringIO()
    call_command("sync_jobs", "--source", "sim", stdout=io.StringIO(), stderr=err)
    assert "sim: busy" in err.getvalue()
    assert not SyncCycle.objects.exists()
    assert sim.stats["calls"] == {}
    assert Source.objects.get(pk=sim_source.pk).sync_lease_until is not None  # still the other's


def test_an_expired_lease_is_taken_over(sim, sim_source, settings):
    settings.TRAINWATCH_SYNC_INTERVAL = 60
    assert sync.claim_source(sim_source.pk, now=timezone.now() - timedelta(minutes=6))  # a killed worker's
    call_command("sync_jobs", "--source", "sim", stdout=io.StringIO(), stderr=io.StringIO())
    assert SyncCycle.objects.get().ok


def test_a_failed_cycle_releases_the_lease(aws_env, settings):
    settings.TRAINWATCH_DEFAULT_SOURCE = False
    settings.AWS_MAX_ATTEMPTS = 1
    source = Source.objects.create(name="gone", region="us-east-1", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(CommandError, match="Sync failed for: gone"):
        call_command("sync_jobs", stdout=io.StringIO(), stderr=io.StringIO())
    assert Source.objects.get(pk=source.pk).sync_lease_until is None
    assert SyncCycle.objects.get().state() == "failed"


# --- a cycle's state ---------------------------------------------------------


def cycle(**fields) -> SyncCycle:
    return SyncCycle.objects.create(source=make_source(), **{"started_at": T0, **fields})


def test_a_cycle_without_finished_at_is_not_ok(settings):
    settings.TRAINWATCH_SYNC_INTERVAL = 60
    unfinished = cycle()
    assert not unfinished.ok
    assert unfinished.state(T0 + timedelta(minutes=4)) == "running"
    assert unfinished.state(T0 + timedelta(minutes=5, seconds=1)) == "unfinished"  # past its lease: its process died


def test_finished_cycle_states():
    done = T0 + timedelta(seconds=5)
    assert cycle(finished_at=done).state() == "ok"
    assert cycle(finished_at=done).ok
    assert cycle(finished_at=done, errors=2).state() == "errors"
    assert cycle(finished_at=done, error="ListTrainingJobs failed").state() == "failed"
    assert not cycle(finished_at=done, errors=2).ok


def test_the_admin_shows_unfinished_and_running_cycles(admin_client, settings):
    settings.TRAINWATCH_SYNC_INTERVAL = 60
    now = timezone.now()
    cycle(started_at=now - timedelta(hours=1))  # killed mid-cycle
    cycle(started_at=now - timedelta(seconds=5))
    cycle(started_at=now - timedelta(hours=2), finished_at=now - timedelta(hours=2), errors=1)
    cycle(started_at=now - timedelta(hours=3), finished_at=now - timedelta(hours=3))
    body = admin_client.get("/admin/jobs/synccycle/").content.decode()
    assert '<span class="tw-badge tw-unknown">unfinished</span>' in body
    assert '<span class="tw-badge tw-running">running</span>' in body
    assert '<span class="tw-badge tw-stopping">1 error</span>' in body
    assert '<span class="tw-badge tw-completed">ok</span>' in body


def test_the_status_page_shows_a_source_whose_last_cycle_never_finished(logged_in, settings):
    settings.TRAINWATCH_SYNC_INTERVAL = 60
    now = timezone.now()
    make_source(
        "killed",
        last_success_at=now - timedelta(minutes=7),
        last_sync_finished_at=now - timedelta(minutes=7),
        last_sync_started_at=now - timedelta(minutes=6),
    )
    make_source(
        "syncing",
        last_success_at=now - timedelta(seconds=30),
        last_sync_finished_at=now - timedelta(seconds=30),
        last_sync_started_at=now - timedelta(seconds=20),
    )
    states = {s["name"]: s["state"] for s in status_figures(now)["sources"]}
    assert states == {"killed": "unfinished", "syncing": "ok"}
    body = logged_in.get("/status/").content.decode()
    assert "last cycle unfinished" in body
