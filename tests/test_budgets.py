"""Per-team monthly budgets (TeamBudget): spend this month against them, on /costs/ and the status board."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from jobs.budgets import month_to_date
from jobs.cost_report import CostQuery, cost_report
from jobs.costs import price_table
from jobs.domain.budgets import budget_line, month_elapsed
from jobs.models import InstancePrice, TeamBudget
from jobs.status import status_figures
from tests.factories import T0, make_job

# Friday 2026-11-20 16:00 UTC: 19 days and 16 hours of November's 30 gone by.
NOW = T0 + timedelta(hours=4)
ELAPSED = (19 * 24 + 16) / (30 * 24)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def price(db):
    InstancePrice.objects.update_or_create(instance_type="ml.p3.2xlarge", defaults={"hourly_usd": Decimal("3.00")})


def test_month_elapsed():
    assert month_elapsed(NOW) == pytest.approx(ELAPSED)
    assert month_elapsed(datetime(2026, 2, 28, 12, tzinfo=NOW.tzinfo)) == pytest.approx((27.5) / 28)
    assert 0 < month_elapsed(datetime(2026, 3, 1, tzinfo=NOW.tzinfo)) < 1e-5  # never a division by zero


@pytest.mark.parametrize(
    ("budget", "state"),
    [
        ("10", "ok"),  # 60 % used, on pace for $9.15
        ("9", "warn"),  # 67 % used, but on pace to pass it
        ("7", "warn"),  # 86 % used
        ("5.99", "over"),
    ],
)
def test_budget_line_states(budget, state):
    line = budget_line("team", "vision", Decimal(budget), Decimal("6.00"), ELAPSED)
    assert line.state == state
    assert line.projected_usd == Decimal("9.15")
    assert line.used_percent == pytest.approx(600 / float(budget))


def test_nothing_spent_is_on_pace_for_nothing():
    assert budget_line("team", "nlp", Decimal(100), Decimal(0), 0.5).projected_usd == 0


def test_spend_is_the_costs_pages_month_by_team(db, price):
    make_job("v-1", tags={"team": "vision"})  # 2 instances x 1 h at $3 today
    make_job("v-2", created=T0 - timedelta(days=3), tags={"team": "vision"})
    make_job("n-1", created=T0 - timedelta(days=1), tags={"team": "nlp"})
    make_job("october", created=T0 - timedelta(days=25), tags={"team": "nlp"})  # not this month
    make_job("o-1", tags={"owner": "vision"})  # another tag key, same value
    TeamBudget.objects.create(tag_value="vision", monthly_usd=Decimal(20))
    TeamBudget.objects.create(tag_value="nlp", monthly_usd=Decimal(10))
    TeamBudget.objects.create(tag_value="audio", monthly_usd=Decimal(10))
    TeamBudget.objects.create(tag_key="owner", tag_value="vision", monthly_usd=Decimal(1))

    lines = {(line.tag_key, line.tag_value): line for line in month_to_date(NOW, price_table())}

    today = timezone.localdate(NOW)
    month = cost_report(CostQuery("month", today.replace(day=1), today, "tag:team", "-spend"), NOW, price_table())
    by_team = {group["value"]: group["usd"] for group in month["groups"]}
    assert lines["team", "vision"].spent_usd == by_team["vision"] == Decimal(12)
    assert lines["team", "nlp"].spent_usd == by_team["nlp"] == Decimal(6)
    assert lines["team", "audio"].spent_usd == 0
    assert lines["owner", "vision"].spent_usd == Decimal(6)
    # Most used first.
    assert [key for key in lines] == [("owner", "vision"), ("team", "nlp"), ("team", "vision"), ("team", "audio")]


def test_status_board_shows_budgets_and_hides_them_when_public(logged_in, price, client, settings):
    make_job("v-1", tags={"team": "<b>vision</b>"})
    TeamBudget.objects.create(tag_value="<b>vision</b>", monthly_usd=Decimal(5))
    figures = status_figures(NOW)
    assert figures["budgets"] == [
        {
            "tag_key": "team",
            "tag_value": "<b>vision</b>",
            "budget_usd": 5.0,
            "spent_usd": 6.0,
            "projected_usd": 9.15,
            "used_percent": 120.0,
            "state": "over",
        }
    ]
    html = logged_in.get("/status/").content.decode()
    assert "Budgets · this month" in html
    assert "&lt;b&gt;vision&lt;/b&gt;" in html and "<b>vision</b>" not in html
    assert "$6.00 of $5.00" in html and "over budget" in html
    assert logged_in.get("/api/status/").json()["budgets"][0]["state"] == "over"

    assert "budgets" not in status_figures(NOW, public=True)
    settings.TRAINWATCH_STATUS_PUBLIC = True
    client.logout()
    public = client.get("/status/").content.decode()
    assert "Budgets" not in public and "vision" not in public


def test_no_budgets_no_section(logged_in, price):
    make_job("v-1")
    assert "Budgets" not in logged_in.get("/status/").content.decode()
    assert "Monthly budgets" not in logged_in.get("/costs/").content.decode()


def test_costs_page_lists_budgets_whatever_its_range(logged_in, price, django_assert_num_queries):
    make_job("v-1", tags={"team": "vision"})
    TeamBudget.objects.create(tag_value="vision", monthly_usd=Decimal(10))
    # session, user, prices, the report's query, the budgets, the month's query
    with django_assert_num_queries(6):
        response = logged_in.get("/costs/", {"from": "2026-10-01", "to": "2026-10-31"})
    html = response.content.decode()
    assert "Monthly budgets" in html
    assert "team=vision" in html and "$6.00" in html and "$10.00" in html and "$9.15" in html
    assert 'href="?by=day&amp;from=2026-11-01&amp;group=tag:team"' in html


def test_budgets_are_edited_in_the_admin(admin_client):
    response = admin_client.post(
        "/admin/jobs/teambudget/add/", {"tag_key": "team", "tag_value": "vision", "monthly_usd": "2500"}
    )
    assert response.status_code == 302
    assert TeamBudget.objects.get().monthly_usd == Decimal(2500)
    refused = admin_client.post(
        "/admin/jobs/teambudget/add/", {"tag_key": "team", "tag_value": "vision", "monthly_usd": "0"}
    )
    assert refused.status_code == 200 and TeamBudget.objects.count() == 1
