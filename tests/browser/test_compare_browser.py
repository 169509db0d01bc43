"""Three jobs compared in Chromium: ticked in the list, opened on /compare/, hostile text inert."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.models import FinalMetric, TrainingJob
from tests.browser.conftest import logged_in_context
from tests.browser.hostile import WIDTH, assert_inert, watched_page
from tests.browser.screenshots import save_screenshot
from tests.browser.waits import settle
from tests.cloudwatch_rows import series_points, store_series
from tests.factories import T0, XSS, make_job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _jobs() -> list[TrainingJob]:
    jobs = []
    for i in range(3):
        job = make_job(
            f"compare-{i}",
            created=T0 + timedelta(minutes=20 * i),
            HyperParameters={"epochs": "10", "lr": f"0.0{i + 1}", XSS: XSS},
        )
        FinalMetric.objects.update_or_create(job=job, name="validation:loss", defaults={"value": 0.5 - i / 10})
        FinalMetric.objects.update_or_create(job=job, name=XSS, defaults={"value": float(i)})
        store_series(job, "train:loss", series_points(job.training_start_time, 60, base=2, slope=-0.01 * (i + 1)))
        store_series(job, XSS, series_points(job.training_start_time, 60))
        jobs.append(job)
    return jobs


def test_three_jobs_ticked_in_the_list_compare_side_by_side(browser, live_server, teammate, tmp_path):
    jobs = _jobs()
    make_job("not-compared", created=T0 + timedelta(hours=2))
    context = logged_in_context(browser, live_server, teammate, width=WIDTH)
    try:
        page, errors = watched_page(context)
        page.goto("/")
        for job in jobs:
            page.check(f"#job-{job.pk} input.pick-job")
        # The selection is in the URL, so paging and sorting keep it.
        assert "compare=" in page.url
        assert page.locator("#compare-button").inner_text() == "Compare selected (3)"
        page.click("#compare-button")
        page.wait_for_url("**/compare/?*")
        settle(page)

        headers = page.locator("#compare-table thead th[scope=col]").all_inner_texts()
        assert headers[1:] == [job.name for job in reversed(jobs)]  # the list's order: newest first
        differing = page.locator("#compare-hyperparameters tr.differs th").all_inner_texts()
        assert [text.split()[0] for text in differing] == ["lr"]
        best = page.locator("#compare-metrics tr.metric").filter(has_text="validation:loss").locator("td.best")
        assert best.count() == 1 and best.inner_text().startswith("0.3")
        assert page.locator("#compare-timelines g.compare-lane").count() == 3
        assert page.locator("#compare-curves figure.cw-chart").count() == 2
        assert page.locator("#compare-curves polyline.cw-line").count() == 6
        # Hostile names and values are shown as text, never run.
        assert_inert(page, errors, "#compare-hyperparameters", XSS)

        save_screenshot(page, tmp_path, "compare")
    finally:
        context.close()
