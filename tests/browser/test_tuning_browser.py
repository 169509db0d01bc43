"""A tuning job's page in Chromium: reached from a trial's page, objective switched, hostile text inert."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.models import FinalMetric, TrainingJob
from tests.browser.conftest import logged_in_context
from tests.browser.hostile import WIDTH, assert_inert, watched_page
from tests.browser.screenshots import save_screenshot
from tests.browser.waits import settle
from tests.factories import ACCOUNT, T0, XSS, make_job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARN = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:hyper-parameter-tuning-job/hpo-browser"


def _trials() -> list[TrainingJob]:
    trials = []
    for i in range(6):
        job = make_job(
            f"hpo-browser-{i:03d}",
            status="Failed" if i == 5 else "Completed",
            created=T0 + timedelta(minutes=10 * i),
            TuningJobArn=ARN,
            FinalMetricDataList=[],
            HyperParameters={"lr": f"0.0{i + 1}", "layers": str(2 + i % 3), "optimizer": "adam", XSS: str(i)},
        )
        if i < 5:
            FinalMetric.objects.create(job=job, name="validation:loss", value=0.5 - abs(i - 2) / -10)
            FinalMetric.objects.create(job=job, name="validation:accuracy", value=0.6 + i / 20)
        trials.append(job)
    return trials


def test_tuning_page_from_a_trial(browser, live_server, teammate, tmp_path):
    trials = _trials()
    context = logged_in_context(browser, live_server, teammate, width=WIDTH)
    try:
        page, errors = watched_page(context)
        page.goto(f"/jobs/{trials[0].pk}/")
        page.click("#tuning-link")
        page.wait_for_url("**/tuning/hpo-browser/")
        settle(page)
        # Default objective: the loss, lowest best (trial 0 and 4 tie at 0.7; trial 2 has 0.5).
        assert "hpo-browser-002" in page.locator("#tuning-best").inner_text()
        assert page.locator("#tuning-trials tbody tr").count() == 6
        assert page.locator("#tuning-plots figure").count() == 3  # layers, lr and the hostile key
        assert page.locator("#tuning-plots circle").count() == 15

        page.select_option("#t-objective", "validation:accuracy")
        page.select_option("#t-direction", "max")
        page.click("#tuning-objective button")
        page.wait_for_url("**objective=validation%3Aaccuracy**")
        settle(page)
        assert "hpo-browser-004" in page.locator("#tuning-best").inner_text()
        page.click("#sort-objective")
        page.wait_for_url("**sort=objective**")
        first = page.locator("#tuning-trials tbody tr").first.inner_text()
        assert "hpo-browser-000" in first

        assert_inert(page, errors, "#tuning-plots", XSS)

        save_screenshot(page, tmp_path, "tuning")
    finally:
        context.close()
