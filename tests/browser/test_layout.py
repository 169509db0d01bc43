"""The pages fit the window at the widths people use: laptop, desktop, wall screen, phone.

Each case also saves a screenshot (into ``TRAINWATCH_SCREENSHOT_DIR`` when set,
else the test's temporary folder) so a person can look at what was checked.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.browser.conftest import logged_in_context
from tests.browser.screenshots import save_screenshot
from tests.factories import T0, make_job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1280, 1440, 1920, 390)
SORTED_BY_METRIC = "/?metric=validation:accuracy&sort=-metric"


def _jobs() -> None:
    """Rows as wide as real ones: long names, several tags, spot, a metric column."""
    tags = {"team": "computer-vision-research", "project": "image-classification", "environment": "staging"}
    for i in range(6):
        make_job(
            f"pytorch-hpo-261123-0235-005-{i:03d}-fafb48e3-with-a-long-suffix",
            created=T0 + timedelta(minutes=i),
            tags=tags,
            EnableManagedSpotTraining=True,
        )


def _page_at(browser, live_server, user, width: int):
    context = logged_in_context(browser, live_server, user, width=width)
    return context, context.new_page()


def _screenshot(page, tmp_path: Path, name: str) -> None:
    save_screenshot(page, tmp_path, name, full_page=False)


@pytest.mark.parametrize("width", WIDTHS)
def test_jobs_page_shows_the_sorted_metric_column_without_overflow(browser, live_server, owner, tmp_path, width):
    _jobs()
    context, page = _page_at(browser, live_server, owner, width)
    try:
        page.goto(SORTED_BY_METRIC)
        _screenshot(page, tmp_path, f"jobs-{width}")
        # The page itself never scrolls sideways, at any width.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        # The header's items stay inside the window (they wrap on a phone).
        header_right = page.evaluate(
            "Math.max(...[...document.querySelectorAll('.topbar > *')].map(e => e.getBoundingClientRect().right))"
        )
        assert header_right <= width
        if width >= 1280:
            # On a laptop and up the whole table fits its card: the metric the
            # list is sorted by is on screen, not behind a sideways scroll.
            wrap = page.locator(".table-wrap")
            assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth")
            metric = page.locator("#jobs-table thead th").last
            assert "validation:accuracy" in metric.inner_text().lower()
            box, card = metric.bounding_box(), wrap.bounding_box()
            assert box is not None and card is not None
            assert box["x"] + box["width"] <= card["x"] + card["width"] + 1
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/status/", "/failures/", "/costs/?from=2026-11-01&to=2026-11-30"])
def test_other_pages_fit_a_phone(browser, live_server, owner, tmp_path, path):
    _jobs()
    make_job("broken-1", status="Failed", created=T0 + timedelta(hours=1))
    context, page = _page_at(browser, live_server, owner, 390)
    try:
        page.goto(path)
        _screenshot(page, tmp_path, f"{path.split('?')[0].strip('/')}-390")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()


def test_pages_have_a_favicon_and_request_nothing_missing(browser, live_server, owner):
    _jobs()
    context, page = _page_at(browser, live_server, owner, 1280)
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    try:
        for path in ("/", "/status/", "/failures/", "/admin/"):
            page.goto(path)
            icon = page.locator("link[rel=icon]")
            assert icon.count() == 1, path
            href = icon.get_attribute("href")
            assert page.request.get(live_server.url + href).status == 200
        assert page.request.get(live_server.url + "/favicon.ico").status == 200
        assert missing == []
    finally:
        context.close()
