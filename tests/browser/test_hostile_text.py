"""Hostile text in every AWS-sourced field, on every page, in a real Chromium.

Jobs are stored through the real parse + ingest path with script tags,
event-handler attributes, ``javascript:`` URLs, RTL overrides and
10,000-character strings wherever AWS (or a customer's container) writes
text. A trap installed before any page script counts every attempt to run
injected code; pages must not trip it, raise a dialog, link to a
``javascript:`` URL, or grow far wider than the window.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from jobs.models import Source, SyncError, TrainingJob
from tests.browser.conftest import logged_in_context
from tests.browser.hostile import HANDLER, JS_URL, LONG, PAYLOAD, RTL, SCRIPT, SVG, TRAP, WIDTH
from tests.browser.waits import settle
from tests.factories import make_job, make_source

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def hostile_response(name: str, *, status: str, created) -> dict:
    start = created + timedelta(minutes=5)
    return {
        "SecondaryStatus": "Training" if status == "InProgress" else f"{SVG}{RTL}"[:64],
        "FailureReason": f"AlgorithmError: {PAYLOAD}\n{LONG}",
        "HyperParameters": {SCRIPT: HANDLER, "javascript": JS_URL, "long": LONG, RTL: RTL},
        "AlgorithmSpecification": {"TrainingImage": f"{JS_URL}/{HANDLER}"[:512], "TrainingInputMode": "File"},
        "InputDataConfig": [
            {
                "ChannelName": f"{SCRIPT}{RTL}",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"{JS_URL}{'b' * 900}"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{HANDLER}/{'c' * 900}"},
        "ModelArtifacts": {"S3ModelArtifacts": f"{JS_URL}//{SCRIPT}"},
        "ResourceConfig": {"InstanceType": f"ml.{SVG}"[:64], "InstanceCount": 1, "VolumeSizeInGB": 10},
        "FinalMetricDataList": [
            {"MetricName": f"{SCRIPT}{'m' * 200}"[:255], "Value": 1.5, "Timestamp": start},
            {"MetricName": f"{RTL}{HANDLER}", "Value": -2.0, "Timestamp": start},
        ],
        "SecondaryStatusTransitions": [
            {"Status": "Starting", "StartTime": created, "EndTime": start, "StatusMessage": PAYLOAD},
            {"Status": f"{HANDLER}"[:64], "StartTime": start, "StatusMessage": f"{LONG}{SCRIPT}"},
        ],
        "created": created,
        "status": status,
    }


@pytest.fixture
def hostile_jobs(transactional_db) -> list[TrainingJob]:
    source = make_source()
    Source.objects.filter(pk=source.pk).update(last_error=f"ListTrainingJobs failed: {PAYLOAD}")
    now = timezone.now()
    jobs = []
    # Names follow AWS's pattern ([a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}), so the longest one is all they can do.
    for name, status in (("h" + "-x" * 31, "Failed"), ("hostile-running", "InProgress"), ("hostile-2", "Failed")):
        response = hostile_response(name, status=status, created=now - timedelta(hours=2))
        jobs.append(
            make_job(
                name,
                source=source,
                tags={SCRIPT: HANDLER, "owner": JS_URL, RTL: LONG},
                **{k: v for k, v in response.items()},
            )
        )
    SyncError.objects.create(source=source, job_name=jobs[0].name, kind="malformed", message=PAYLOAD + LONG)
    return jobs


def logged_in_page(browser, live_server, user: User):
    context = logged_in_context(browser, live_server, user, width=WIDTH)
    context.add_init_script(TRAP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    return context, page


def assert_harmless(page, url: str, *, layout: bool = True) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url}: {response and response.status}"
    # "load": every image, script and style is in (an onerror fires by then);
    # "networkidle" hung once in CI on a kept-alive admin connection.
    page.wait_for_load_state("load")
    settle(page)  # late handlers and queued timers run
    for opener in page.locator("details:not([open]) > summary").all()[:10]:
        opener.click()
    settle(page)
    assert page.evaluate("window.__hits") == [], f"{url}: injected code ran"
    assert page.dialogs == [], f"{url}: a dialog opened"
    assert page.locator('a[href^="javascript:" i], [src^="javascript:" i]').count() == 0, f"{url}: javascript: link"
    assert page.locator("script:not([src])").evaluate_all(
        "(nodes) => nodes.filter((n) => n.textContent.includes('__xss')).length"
    ) in (0, None), f"{url}: a payload became a script element"
    if layout:
        assert_fits(page, url)


def assert_fits(page, url: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH * 1.25, f"{url}: page is {width}px wide in a {WIDTH}px window"


def test_pages_show_hostile_text_inertly_and_keep_their_layout(browser, live_server, hostile_jobs, teammate):
    context, page = logged_in_page(browser, live_server, teammate)
    try:
        failed, running, _ = hostile_jobs
        for url in (
            "/",
            "/?q=%3Cscript%3E",
            f"/jobs/{failed.pk}/",
            f"/jobs/{running.pk}/",
            "/failures/",
            "/status/",
            "/costs/",
        ):
            assert_harmless(page, url)
        # The untrusted text is there, as text.
        page.goto(f"/jobs/{failed.pk}/")
        assert SCRIPT in page.locator("body").inner_text()
        # Tag keys and values name the costs page's groups: text there too, in the table and the legend.
        for key in (SCRIPT, "owner", RTL):
            assert_harmless(page, "/costs/?" + urlencode({"group": f"tag:{key}"}))
            assert page.locator("table.costs-table tbody tr").count() >= 1
    finally:
        context.close()


def test_admin_shows_hostile_text_inertly(browser, live_server, hostile_jobs, owner):
    context, page = logged_in_page(browser, live_server, owner)
    try:
        failed = hostile_jobs[0]
        for url in (
            "/admin/jobs/trainingjob/",
            f"/admin/jobs/trainingjob/?q={failed.name}",
            "/admin/jobs/syncerror/",
            "/admin/jobs/source/",
        ):
            assert_harmless(page, url)
        assert_harmless(page, f"/admin/jobs/trainingjob/{failed.pk}/change/", layout=False)
    finally:
        context.close()


def test_admin_change_page_wraps_long_untrusted_text(browser, live_server, hostile_jobs, owner):
    context, page = logged_in_page(browser, live_server, owner)
    try:
        url = f"/admin/jobs/trainingjob/{hostile_jobs[0].pk}/change/"
        page.goto(url)
        assert_fits(page, url)
    finally:
        context.close()


def test_the_api_serves_hostile_text_as_json_only(browser, live_server, hostile_jobs, teammate):
    context, page = logged_in_page(browser, live_server, teammate)
    try:
        for url in ("/api/jobs/", f"/api/jobs/{hostile_jobs[0].pk}/", "/api/status/"):
            response = page.goto(url)
            assert response.headers["content-type"].startswith("application/json")
            assert response.headers.get("x-content-type-options") == "nosniff"
            settle(page)
            assert page.evaluate("window.__hits") == []
            assert page.dialogs == []
    finally:
        context.close()
