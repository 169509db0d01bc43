"""The pages in Chromium: filters, timeline, live refresh."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.models import TrainingJob
from tests.factories import T0, make_job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_list_filter_narrows_and_lives_in_the_url(page):
    make_job("done-1")
    make_job("broken-1", status="Failed", created=T0 + timedelta(minutes=1))
    make_job("live-1", status="InProgress", created=T0 + timedelta(minutes=2))
    page.goto("/")
    assert page.locator("#jobs-table tbody tr.job-row").count() == 3
    assert page.locator("tr.job-row .badge.failed").count() == 1
    page.select_option("#f-status", "Failed")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**/?*status=Failed*")
    rows = page.locator("#jobs-table tbody tr.job-row")
    assert rows.count() == 1
    assert "broken-1" in rows.first.inner_text()
    # Reloading the URL keeps the filter: state lives in the query string.
    page.reload()
    assert page.locator("#f-status").input_value() == "Failed"
    assert page.locator("#jobs-table tbody tr.job-row").count() == 1


def test_list_updates_running_rows_in_place(page):
    job = make_job("live-1", status="InProgress")
    page.goto("/")
    page.evaluate("window.__sameDocument = 1")
    assert "Training" in page.locator(f"#job-{job.pk}").inner_text()
    TrainingJob.objects.filter(pk=job.pk).update(secondary_status="Uploading")
    page.wait_for_function(f"document.getElementById('job-{job.pk}').innerText.includes('Uploading')", timeout=15_000)
    assert page.evaluate("window.__sameDocument") == 1


def test_detail_timeline_bars_with_messages(page):
    job = make_job("done-1")
    page.goto(f"/jobs/{job.pk}/")
    svg = page.locator("svg.timeline-svg")
    assert svg.is_visible()
    bars = svg.locator("rect.bar")
    assert bars.count() == 3
    # The first bar (Starting, 5 of 65 minutes) has a real width on screen.
    box = bars.first.bounding_box()
    assert box is not None and box["width"] > 20
    titles = svg.locator("rect.bar > title").all_text_contents()
    assert any("Preparing the instances" in t for t in titles)
    assert any("Training image download completed" in t for t in titles)
    assert svg.locator("rect.billed").count() == 1
    assert page.locator("table.phases tbody tr").count() == 3


def test_status_page_refreshes_without_reload(page):
    page.goto("/status/?every=1")
    page.evaluate("window.__sameDocument = 1")
    assert page.locator("#tile-running").inner_text() == "0"
    make_job("fresh-live-1", status="InProgress")
    page.wait_for_function("document.getElementById('tile-running').innerText === '1'", timeout=10_000)
    assert "fresh-live-1" in page.locator(".running-list").inner_text()
    assert page.evaluate("window.__sameDocument") == 1
