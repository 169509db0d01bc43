"""Adaptive polling: a pushed source's running jobs are described every FACTOR cycles, listing every cycle."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
import time_machine

from jobs import sagemaker, sync
from jobs.models import Source, TrainingJob
from tests.factories import T0, make_job, make_source

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("describe_only")]

NOW = T0 + timedelta(hours=3)


@pytest.fixture(autouse=True)
def push_settings(settings):
    settings.TRAINWATCH_SYNC_INTERVAL = 60
    settings.TRAINWATCH_PUSH_POLL_FACTOR = 10
    settings.TRAINWATCH_PUSH_WINDOW_SECONDS = 900


@pytest.fixture
def listed():
    """ListTrainingJobs at our wrapper: records each call, lists nothing new."""
    with (
        time_machine.travel(NOW, tick=False),
        mock.patch.object(sagemaker, "list_changed_pages", side_effect=lambda config, since: iter([[]])) as listing,
    ):
        yield listing


def _cycle(source: Source) -> list[str]:
    queued: list[str] = []
    source.refresh_from_db()
    sync.run_cycle(source, dispatch=lambda cycle, names: queued.extend(names), now=NOW)
    TrainingJob.objects.update(describe_queued_at=None)  # as if each queued describe were done
    return sorted(queued)


def _running_jobs(source: Source) -> None:
    # Described at the start of a cycle that many intervals ago, a moment after it began.
    for name, cycles_ago in (("one-ago", 1), ("nine-ago", 9), ("ten-ago", 10)):
        make_job(name, source=source, status="InProgress", now=NOW - timedelta(seconds=60 * cycles_ago - 2))
    changed = make_job("changed", source=source, status="InProgress", now=NOW - timedelta(seconds=58))
    # Listed (or pushed) as changed since its describe: due whatever the mode.
    TrainingJob.objects.filter(pk=changed.pk).update(last_modified_time=changed.last_modified_time + timedelta(1))
    make_job("done", source=source, status="Completed", now=NOW - timedelta(hours=1))


def test_a_polled_source_describes_every_running_job_every_cycle(listed):
    source = make_source("polled")
    _running_jobs(source)
    assert _cycle(source) == ["changed", "nine-ago", "one-ago", "ten-ago"]


def test_a_pushed_source_describes_running_jobs_only_at_the_stretched_interval(listed):
    source = make_source("pushed", last_event_at=NOW - timedelta(seconds=30))
    _running_jobs(source)
    # Described one or nine cycles ago: not due yet; ten: due, on the tenth cycle, not the eleventh.
    assert _cycle(source) == ["changed", "ten-ago"]
    assert listed.call_count == 1  # the listing ran all the same


def test_a_stale_push_source_returns_to_normal_polling(listed, settings):
    source = make_source("quiet", last_event_at=NOW - timedelta(seconds=settings.TRAINWATCH_PUSH_WINDOW_SECONDS + 1))
    _running_jobs(source)
    assert _cycle(source) == ["changed", "nine-ago", "one-ago", "ten-ago"]
    # And an event arriving makes it push again.
    Source.objects.filter(pk=source.pk).update(last_event_at=NOW)
    TrainingJob.objects.filter(source=source).update(described_at=NOW - timedelta(seconds=58))
    assert _cycle(source) == ["changed"]


def test_a_factor_of_one_keeps_polling_every_cycle(listed, settings):
    settings.TRAINWATCH_PUSH_POLL_FACTOR = 1
    source = make_source("pushed", last_event_at=NOW)
    _running_jobs(source)
    assert _cycle(source) == ["changed", "nine-ago", "one-ago", "ten-ago"]


def test_another_sources_events_do_not_stretch_this_one(listed):
    make_source("pushed", last_event_at=NOW)
    source = make_source("polled")
    _running_jobs(source)
    assert _cycle(source) == ["changed", "nine-ago", "one-ago", "ten-ago"]
