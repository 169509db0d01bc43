"""Team budgets: a tag value's spend today over the rule's daily budget alerts once per team and local day."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts import limits
from alerts.models import AlertKind, AlertRule
from jobs.models import InstancePrice, Source
from jobs.status import status_figures
from tests.factories import T0, describe_response, make_source
from tests.test_alerts import send_now, store

pytestmark = pytest.mark.django_db

NOW = T0 + timedelta(hours=2, minutes=5)  # the running jobs have trained two hours


@pytest.fixture
def watched(settings, receiver):
    settings.TRAINWATCH_ALERT_URLS = [receiver.url]
    settings.TRAINWATCH_BASE_URL = "https://trainwatch.example"
    # Two ml.p3.2xlarge instances per job: $6 an hour.
    InstancePrice.objects.update_or_create(instance_type="ml.p3.2xlarge", defaults={"hourly_usd": Decimal("3")})
    AlertRule.objects.all().delete()
    return make_source(last_success_at=T0 - timedelta(days=1))


def budget_rule(budget: str = "20", **fields) -> AlertRule:
    return AlertRule.objects.create(
        name=f"budget {budget} {fields}",
        kind=AlertKind.TEAM_BUDGET,
        daily_budget_usd=Decimal(budget),
        created_at=T0 - timedelta(days=1),
        **fields,
    )


def job(name: str, team: str | None, *, status: str = "InProgress") -> dict:
    response = describe_response(name, status=status)
    if team is not None:
        response["_tags"] = {"team": team, "env": "prod"}
    return response


def teams(source: Source, prefix: str = "") -> None:
    """vision: two running jobs ($12 each so far) and one that trained an hour today ($6); nlp: one running ($12)."""
    store(
        source,
        job(f"{prefix}vision-a", "vision"),
        job(f"{prefix}vision-b", "vision"),
        job(f"{prefix}vision-done", "vision", status="Completed"),
        job(f"{prefix}nlp-a", "nlp"),
        job(f"{prefix}untagged", None),
    )


def test_a_team_over_its_budget_alerts_once_a_day_and_one_under_it_does_not(watched, receiver):
    budget_rule("20")
    teams(watched)
    (alert,) = limits.decide_budgets(now=NOW)
    assert alert.job is None and alert.source is None
    assert alert.details["team"] == "vision" and alert.details["spend_usd"] == "30.00"
    assert [j["name"] for j in alert.details["top_jobs"]] == ["vision-b", "vision-a", "vision-done"]
    assert limits.decide_budgets(now=NOW + timedelta(hours=1)) == []  # once that day (nlp: $17.50, still under)
    send_now()
    (post,) = receiver.posts
    assert post.body["title"] == "team=vision spent $30.00 today, over its $20.00 budget"
    assert "vision-a: $12.00" in post.body["message"]
    assert "https://trainwatch.example/jobs/" in post.body["message"]
    (fields,) = post.body["trainwatch"]["budgets"]
    assert (fields["team"], fields["spend_usd"], fields["budget_usd"]) == ("vision", "30.00", "20.00")
    # The next day counts again from midnight: both teams are over (12 hours of running jobs).
    next_day = limits.decide_budgets(now=T0 + timedelta(days=1))
    assert sorted(a.details["team"] for a in next_day) == ["nlp", "vision"]
    assert alert.event not in {a.event for a in next_day}


@pytest.mark.parametrize(("zone", "again"), [("UTC", 1), ("America/Los_Angeles", 0)])
def test_the_day_is_the_local_one(watched, settings, zone, again):
    settings.TIME_ZONE = zone
    budget_rule("5")
    teams(watched)
    assert {a.details["team"] for a in limits.decide_budgets(now=NOW)} == {"vision", "nlp"}
    # 01:00 UTC the next day ($12 of vision's running jobs since midnight UTC): a new day in
    # UTC, still the afternoon before in Los Angeles.
    later = limits.decide_budgets(now=T0 + timedelta(hours=13))
    assert len([a for a in later if a.details["team"] == "vision"]) == again


def test_the_spend_is_the_status_pages(watched):
    teams(watched)
    spend = status_figures(NOW)["spend"]["today"]["estimated_usd"]
    budget_rule("0.01")
    decided = {a.details["team"]: Decimal(a.details["spend_usd"]) for a in limits.decide_budgets(now=NOW)}
    untagged = Decimal("12.00")
    assert sum(decided.values()) + untagged == Decimal(str(spend))


def test_exactly_at_the_budget_is_not_over_and_no_budget_decides_nothing(watched):
    teams(watched)
    budget_rule("30")
    assert limits.decide_budgets(now=NOW) == []
    AlertRule.objects.create(name="no budget", kind=AlertKind.TEAM_BUDGET, created_at=T0 - timedelta(days=1))
    assert limits.decide_budgets(now=NOW) == []


def test_a_rule_scoped_to_one_team_or_another_source_sees_only_that(watched):
    teams(watched)
    budget_rule("10", scope_tag="team=nlp")
    other = make_source("other")
    budget_rule("1", scope_source=other)
    (alert,) = limits.decide_budgets(now=NOW)
    assert alert.details["team"] == "nlp"


def test_a_muted_rule_decides_nothing(watched):
    teams(watched)
    budget_rule("1", muted=True)
    assert limits.decide_budgets(now=NOW) == []


def _budget_queries(source: Source, count: int, prefix: str) -> tuple[int, int]:
    store(source, *[job(f"{prefix}-{i}", f"{prefix}-team") for i in range(count)])
    with CaptureQueriesContext(connection) as deciding:
        decided = limits.decide_budgets(now=NOW)
    assert {a.details["team"] for a in decided} == {f"{prefix}-team"}
    with CaptureQueriesContext(connection) as again:
        assert limits.decide_budgets(now=NOW) == []
    return len(deciding.captured_queries), len(again.captured_queries)


def test_the_budget_decision_costs_the_same_queries_for_ten_jobs_as_for_a_hundred(watched):
    budget_rule("5")
    _budget_queries(watched, 1, "first")  # creates the TRAINWATCH_ALERT_URLS channel, once
    few, many = _budget_queries(watched, 10, "few"), _budget_queries(watched, 100, "many")
    assert few == many
    assert few[1] <= 4  # the rules, the prices, the spend per team, those decided today


def test_the_migration_creates_a_built_in_budget_rule_with_no_budget():
    rule = AlertRule.objects.get(builtin=True, kind=AlertKind.TEAM_BUDGET)
    assert (rule.budget_tag_key, rule.daily_budget_usd, rule.muted) == ("team", None, False)
