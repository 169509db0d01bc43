"""/costs/ in Chromium: the chart, legend and table render, no script errors, hostile tag values stay text."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from jobs.models import InstancePrice, TeamBudget
from tests.browser.screenshots import save_screenshot
from tests.factories import T0, make_job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_costs_page_renders_without_script_errors(page, tmp_path):
    InstancePrice.objects.update_or_create(instance_type="ml.p3.2xlarge", defaults={"hourly_usd": Decimal("3.00")})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    teams = ["vision", "nlp", "search", '<img src=x onerror="alert(1)">']
    for i in range(12):
        make_job(
            f"c-{i}",
            status=("Completed", "Failed", "Stopped")[i % 3],
            created=T0 - timedelta(days=i % 6, hours=i),
            EnableManagedSpotTraining=i % 2 == 0,
            tags={"team": teams[i % len(teams)]} if i % 5 else {},
        )
    for team in ("vision", teams[-1]):
        TeamBudget.objects.create(tag_value=team, monthly_usd=Decimal(100))
    page.goto("/costs/?from=2026-11-10&to=2026-11-21")
    assert page.locator("table.budgets-table tbody tr").count() == 2
    assert f"team={teams[-1]}" in page.locator("table.budgets-table").inner_text()
    assert page.locator("svg.cost-chart rect").count() > 0
    assert page.locator("ul.legend li").count() == 5  # four teams and "(no team)"
    assert page.locator("table.costs-table tbody tr").count() == 5
    assert '<img src=x onerror="alert(1)">' in page.locator("table.costs-table").inner_text()
    assert page.locator("table.costs-table img, table.budgets-table img").count() == 0
    assert page.dialogs == []
    assert errors == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.click("table.costs-table thead th >> text=jobs")
    page.wait_for_url("**sort=-jobs*")
    page.select_option("select[name=by]", "week")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**by=week*")
    assert page.locator("svg.cost-chart rect").count() > 0
    assert errors == []
    save_screenshot(page, tmp_path, "costs")
