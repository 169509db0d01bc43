"""The alerts admin in Chromium: every rule kind's form, a channel's test message, the delivery log."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils.text import capfirst

from alerts.models import AlertKind, AlertRule, Channel
from tests.browser.conftest import logged_in_context
from tests.factories import T0, make_source
from tests.test_alerts import failed, running, send_now, store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def admin_page(browser, live_server, owner):
    context = logged_in_context(browser, live_server, owner)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.errors = errors
    yield page
    context.close()


def test_rules_channels_and_the_delivery_log(admin_page, receiver, settings, tmp_path):
    page = admin_page
    settings.TRAINWATCH_BASE_URL = "https://trainwatch.example"
    for kind in AlertKind:
        AlertRule.objects.create(kind=kind, name=f"custom {kind.value}", created_at=T0 - timedelta(days=1))
    rules = list(AlertRule.objects.all())
    assert {r.kind for r in rules} == set(AlertKind.values)

    page.goto("/admin/alerts/alertrule/")
    listed = page.locator("#result_list tbody tr").all_inner_texts()
    for rule in rules:
        assert any(rule.name in row for row in listed), rule.name
    for rule in rules:
        page.goto(f"/admin/alerts/alertrule/{rule.pk}/change/")
        assert page.locator("#id_kind").input_value() == rule.kind
        # The filter_horizontal widget is the page's script: it built its two boxes.
        page.wait_for_selector("#id_channels_from")
        assert page.locator("#id_metric_stall_minutes").count() == 1
    page.goto("/admin/alerts/alertrule/add/")
    page.wait_for_selector("#id_channels_from")

    channel = Channel.objects.create(name="loopback hook", url=receiver.url)
    page.goto("/admin/alerts/channel/")
    page.check(f"input[name=_selected_action][value='{channel.pk}']")
    page.select_option("select[name=action]", "send_test_message")
    page.click("button[name=index]")
    page.wait_for_selector("ul.messagelist li.success")
    assert page.locator("ul.messagelist li.success").inner_text() == capfirst("loopback hook: test message sent.")
    (post,) = receiver.posts
    assert post.body["title"] == "Trainwatch test message"

    # A real alert through the same channel: decided from a stored change, sent by the sweep.
    AlertRule.objects.get(name="custom failed").channels.add(channel)
    source = make_source(last_success_at=T0 - timedelta(days=1))  # synced before: news, not history
    store(source, running("fails-later"))
    store(source, failed("fails-later"))
    assert send_now().sent >= 1
    assert len(receiver.posts) >= 2
    page.goto("/admin/alerts/delivery/")
    rows = page.locator("#result_list tbody tr").all_inner_texts()
    assert any("loopback hook" in row and "Sent" in row and "custom failed" in row for row in rows), rows

    folder = Path(os.environ.get("TRAINWATCH_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "alerts-delivery-log.png"), full_page=True)
    assert (folder / "alerts-delivery-log.png").stat().st_size > 0
    assert page.errors == []
