"""Each team's monthly budget (``TeamBudget``) against its estimated spend this month so far.

The spend is /costs/'s own figure (``cost_report`` for the month to date,
grouped by the budget's tag key), so both pages always agree: one query per
tag key that has budgets, plus the budgets and the price table.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from jobs.cost_report import DEFAULT_SORT, CostQuery, cost_report
from jobs.costs import Prices
from jobs.domain.budgets import BudgetLine, budget_line, month_elapsed
from jobs.domain.periods import MONTH
from jobs.models import TeamBudget


def month_to_date(now: datetime, prices: Prices) -> list[BudgetLine]:
    """Every budget's line, most used first."""
    budgets = list(TeamBudget.objects.all())
    if not budgets:
        return []
    local_now = timezone.localtime(now)
    today = local_now.date()
    spent: dict[tuple[str, str], Decimal] = {}
    for key in sorted({b.tag_key for b in budgets}):
        query = CostQuery(by=MONTH, first=today.replace(day=1), last=today, group=f"tag:{key}", sort=DEFAULT_SORT)
        for group in cost_report(query, now, prices)["groups"]:
            if group["value"] is not None:
                spent[(key, str(group["value"]))] = group["usd"]
    elapsed = month_elapsed(local_now)
    lines = [
        budget_line(b.tag_key, b.tag_value, b.monthly_usd, spent.get((b.tag_key, b.tag_value), Decimal(0)), elapsed)
        for b in budgets
    ]
    return sorted(lines, key=lambda line: (-line.used_percent, line.tag_key, line.tag_value))
