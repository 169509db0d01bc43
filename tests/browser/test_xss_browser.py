"""Untrusted text from AWS and containers never runs as script in a browser."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.models import Source
from tests.browser.waits import settle, wait_for_status_refresh
from tests.factories import T0, make_job, make_source

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'
SVG = '<svg onload="window.__xss=1"></svg>'
PAYLOAD = f"{SCRIPT}\n{IMG}\n{SVG}"


@pytest.fixture
def hostile_job(transactional_db):
    transitions = [
        {"Status": "Starting", "StartTime": T0, "EndTime": T0 + timedelta(minutes=5), "StatusMessage": PAYLOAD},
        {"Status": IMG, "StartTime": T0 + timedelta(minutes=5), "StatusMessage": SCRIPT},
    ]
    source = make_source()
    Source.objects.filter(pk=source.pk).update(last_error=PAYLOAD)
    return make_job(
        "hostile-1",
        source=source,
        status="Failed",
        SecondaryStatus=IMG,
        FailureReason=f"AlgorithmError: boom\n{PAYLOAD}\n✓ ünïcode",
        HyperParameters={SCRIPT: IMG, "lr": SVG},
        FinalMetricDataList=[{"MetricName": IMG, "Value": 1.0, "Timestamp": T0}],
        SecondaryStatusTransitions=transitions,
        tags={SCRIPT: IMG},
    )


def _assert_clean(page):
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.dialogs == []


def test_detail_shows_untrusted_text_literally(page, hostile_job):
    page.goto(f"/jobs/{hostile_job.pk}/")
    page.locator("details.raw summary").click()
    settle(page)
    _assert_clean(page)
    reason = page.locator("#failure-reason").inner_text()
    assert SCRIPT in reason and IMG in reason
    assert "boom\n" in reason  # line breaks kept
    assert page.locator("#failure-reason img, #failure-reason script").count() == 0
    assert SCRIPT in page.locator("table.kv-table").first.inner_text()
    assert IMG in page.locator("body").inner_text()
    assert SCRIPT in page.locator("pre.json").inner_text()
    titles = page.locator("svg.timeline-svg rect.bar > title").all_text_contents()
    assert any(SCRIPT in t for t in titles)


def test_list_failures_and_status_stay_inert(page, hostile_job):
    page.goto(f"/?metric={IMG}")
    settle(page)
    _assert_clean(page)
    assert IMG in page.locator("#jobs-table").inner_text()
    page.goto("/failures/")
    settle(page)
    _assert_clean(page)
    assert SCRIPT in page.locator(".failure-group").first.inner_text()
    page.goto("/status/?every=1")
    wait_for_status_refresh(page)
    _assert_clean(page)
    assert "window.__xss" in page.locator(".sources").inner_text()
