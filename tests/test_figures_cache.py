"""The summary figures are shared between viewers until a job changes or the time bucket ends."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from jobs.figures_cache import cached_figures
from tests.factories import T0, make_job

NOW = T0 + timedelta(days=3)
pytestmark = pytest.mark.django_db


def _counter():
    calls = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    return compute, calls


def test_one_computation_per_bucket(settings) -> None:
    settings.TRAINWATCH_FIGURES_CACHE_SECONDS = 15
    compute, calls = _counter()
    start = NOW.replace(second=0)
    assert cached_figures("x", start, compute) == 1
    assert cached_figures("x", start + timedelta(seconds=14), compute) == 1
    assert cached_figures("x", start + timedelta(seconds=15), compute) == 2
    assert cached_figures("y", start + timedelta(seconds=15), compute) == 3
    assert len(calls) == 3


def test_a_stored_change_is_seen_at_once(settings) -> None:
    settings.TRAINWATCH_FIGURES_CACHE_SECONDS = 600
    compute, _ = _counter()
    assert cached_figures("x", NOW, compute) == 1
    make_job("new-one", status="Failed")  # writes a JobChange
    assert cached_figures("x", NOW, compute) == 2


def test_zero_turns_it_off(settings) -> None:
    settings.TRAINWATCH_FIGURES_CACHE_SECONDS = 0
    compute, calls = _counter()
    cached_figures("x", NOW, compute)
    cached_figures("x", NOW, compute)
    assert len(calls) == 2


def test_the_failures_page_shows_a_new_failure_at_once(logged_in) -> None:
    with time_machine.travel(NOW, tick=False):
        make_job("first", status="Failed", FailureReason="AlgorithmError: disk full")
        assert logged_in.get("/failures/").context["groups"][0].count == 1
        make_job("second", status="Failed", FailureReason="AlgorithmError: disk full")
        assert logged_in.get("/failures/").context["groups"][0].count == 2


def test_the_status_page_keeps_health_live(logged_in, settings) -> None:
    # The totals may come from the cache; a source's error may not.
    from jobs.models import Source
    from tests.factories import make_source

    make_source("default", last_success_at=NOW)
    logged_in.get("/status/")
    Source.objects.filter(name="default").update(last_error="throttled for an hour")
    assert "throttled for an hour" in logged_in.get("/status/fragment/").json()["html"]
