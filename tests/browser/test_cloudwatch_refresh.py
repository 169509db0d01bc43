"""A running job's CloudWatch panel refreshes in place, in Chromium: new points appear without a reload."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobs import cloudwatch_sync
from jobs.domain import cloudwatch as cw
from jobs.models import MetricSeries, TrainingJob
from tests.browser.conftest import logged_in_context
from tests.browser.waits import settle
from tests.cloudwatch_rows import series_points, store_series, store_tail
from tests.factories import make_job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LEGEND = "#cloudwatch .cw-legend"


def _add_point(job: TrainingJob, value: float) -> None:
    series = MetricSeries.objects.get(job=job, name="train:loss")
    key = cw.SeriesKey(job.name, "train:loss", "")
    cloudwatch_sync._store_points(job, key, [(series.cursor.timestamp() + 60, value)], datetime.now(UTC))


def test_a_new_point_appears_without_a_reload_and_refreshing_stops_when_terminal(browser, live_server, teammate):
    job = make_job("cw-refresh-1", status="InProgress")
    store_series(job, "train:loss", series_points(job.training_start_time, 20, base=1.0))
    store_tail(job, "algo-1", ["epoch 1", "warming up", "epoch 2"])
    context = logged_in_context(browser, live_server, teammate)
    try:
        page = context.new_page()
        page.clock.install()
        page.goto(f"/jobs/{job.pk}/")
        settle(page)
        page.evaluate("window.__sameDocument = true")
        before = page.locator("#cloudwatch polyline").first.get_attribute("points")
        page.fill("#log-filter", "epoch")
        assert "(last)" in page.locator("#cloudwatch polyline title").first.text_content()

        _add_point(job, 0.125)
        page.clock.run_for(31_000)
        page.wait_for_function("() => document.getElementById('cloudwatch').dataset.refreshedAt")
        after = page.locator("#cloudwatch polyline").first.get_attribute("points")
        assert after != before and len(after.split(" ")) == len(before.split(" ")) + 1
        assert page.locator("#cloudwatch polyline title").first.text_content().endswith("0.125 (last)")
        assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
        assert page.locator("#cloudwatch").count() == 1
        # The filter's text survives the swap and still applies to the fresh lines.
        assert page.input_value("#log-filter") == "epoch"
        assert page.locator("#cloudwatch li:visible .cw-text").all_inner_texts() == ["epoch 1", "epoch 2"]

        # Terminal: the next panel comes without data-refresh and no request follows it.
        TrainingJob.objects.filter(pk=job.pk).update(status="Completed")
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url) if "/cloudwatch/" in r.url else None)
        page.evaluate("delete document.getElementById('cloudwatch').dataset.refreshedAt")
        page.clock.run_for(31_000)
        page.wait_for_function("() => document.getElementById('cloudwatch').dataset.refreshedAt")
        assert page.get_attribute("#cloudwatch", "data-refresh") is None
        page.clock.run_for(120_000)
        settle(page)
        assert len(requests) == 1
    finally:
        context.close()


def test_a_terminal_job_never_refreshes(browser, live_server, teammate):
    job = make_job("cw-refresh-2", status="Completed")
    store_series(job, "train:loss", series_points(job.training_start_time, 20, base=1.0))
    context = logged_in_context(browser, live_server, teammate)
    try:
        page = context.new_page()
        page.clock.install()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url) if "/cloudwatch/" in r.url else None)
        page.goto(f"/jobs/{job.pk}/")
        page.clock.run_for(120_000)
        settle(page)
        assert requests == []
        assert page.get_attribute("#cloudwatch", "data-refresh") is None
    finally:
        context.close()
