"""Hostile CloudWatch text on the job page, in Chromium: log lines and metric names shown as text, cut, inert."""

from __future__ import annotations

import pytest

from tests.browser.conftest import logged_in_context
from tests.browser.hostile import HANDLER, SCRIPT, SVG, TRAP, WIDTH
from tests.browser.waits import settle
from tests.cloudwatch_rows import series_points, store_series, store_tail
from tests.factories import make_job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

INVALID_UTF8 = b"bytes \xff\xfe\xc3( end".decode("utf-8", "surrogateescape")
MEGABYTE = "M" * 1_000_000
ANSI = "\x1b[1;31mERROR\x1b[0m \x1b]0;owned\x07colour"


def test_hostile_log_lines_are_escaped_and_cut(browser, live_server, teammate):
    job = make_job("cw-hostile-1", FailureReason="AlgorithmError: see logs")
    store_series(job, f"train:{SCRIPT}", series_points(job.training_start_time, 50))
    store_tail(job, "algo-1", [SCRIPT, HANDLER, SVG, ANSI, MEGABYTE, INVALID_UTF8, "last line"])
    context = logged_in_context(browser, live_server, teammate, width=WIDTH)
    context.add_init_script(TRAP)
    try:
        page = context.new_page()
        page.goto(f"/jobs/{job.pk}/")
        settle(page)
        assert page.evaluate("window.__hits") == [], "injected code ran"
        lines = page.locator("#cloudwatch .cw-text").all_inner_texts()
        assert lines[:3] == [SCRIPT, HANDLER, SVG]
        assert lines[3] == "ERROR colour"  # escapes stripped, no title set
        assert lines[4] == "M" * 2000
        assert lines[5] == "bytes \ufffd\ufffd\ufffd( end"
        assert lines[6] == "last line"
        assert page.locator("#cloudwatch .cw-cut").inner_text() == "… cut at 2,000 of 1,000,000 characters"
        assert page.locator("#cloudwatch img, #cloudwatch script, #cloudwatch svg svg").count() == 0
        assert page.title() != "owned"
        assert page.locator("#cloudwatch figcaption").first.inner_text() == SCRIPT  # the group: train:<name>
        assert page.locator("#cloudwatch .cw-legend").first.inner_text().startswith(f"train:{SCRIPT}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= WIDTH + 16, f"page grew to {width}px"
    finally:
        context.close()


def test_the_filter_box_keeps_matching_lines_in_every_host(browser, live_server, teammate):
    job = make_job("cw-filter-1", status="Completed")
    store_tail(job, "algo-1", ["epoch 1 loss 0.9", "Epoch 2 loss 0.5", "saving model"])
    store_tail(job, "algo-2", ["epoch 1 loss 0.8", f"odd {SCRIPT}", "done"])
    context = logged_in_context(browser, live_server, teammate, width=WIDTH)
    context.add_init_script(TRAP)
    try:
        page = context.new_page()
        page.goto(f"/jobs/{job.pk}/")
        page.fill("#log-filter", "EPOCH")
        visible = page.locator("#cloudwatch li:visible .cw-text").all_inner_texts()
        assert visible == ["epoch 1 loss 0.9", "Epoch 2 loss 0.5", "epoch 1 loss 0.8"]
        assert page.locator("#cloudwatch details.cw-log[open]").count() == 2  # hosts with a match open
        assert page.locator("#log-filter-count").inner_text() == "3 of 6 lines"
        page.fill("#log-filter", "<script>")
        assert page.locator("#cloudwatch li:visible .cw-text").all_inner_texts() == [f"odd {SCRIPT}"]
        page.fill("#log-filter", "")
        assert page.locator("#cloudwatch li:visible .cw-text").count() == 6
        assert page.evaluate("window.__hits") == []
    finally:
        context.close()
