"""A team's monthly budget against its spend so far this month. Pure, no Django."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

# Used share of a budget from which a line is shown as a warning.
WARN_PERCENT = 80


@dataclass(frozen=True)
class BudgetLine:
    tag_key: str
    tag_value: str
    budget_usd: Decimal
    spent_usd: Decimal
    # Spend by the month's end if it goes on at this month's pace so far.
    projected_usd: Decimal

    @property
    def used_percent(self) -> float:
        return float(self.spent_usd / self.budget_usd * 100)

    @property
    def state(self) -> str:
        """"over" past the budget, "warn" past WARN_PERCENT of it or on pace to pass it, else "ok"."""
        if self.spent_usd > self.budget_usd:
            return "over"
        if self.used_percent >= WARN_PERCENT or self.projected_usd > self.budget_usd:
            return "warn"
        return "ok"


def month_elapsed(local_now: datetime) -> float:
    """The share of ``local_now``'s calendar month gone by, in (0, 1]."""
    days = calendar.monthrange(local_now.year, local_now.month)[1]
    start = local_now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elapsed = (local_now - start).total_seconds() / (days * 86400)
    return min(max(elapsed, 1e-6), 1.0)


def budget_line(tag_key: str, tag_value: str, budget_usd: Decimal, spent_usd: Decimal, elapsed: float) -> BudgetLine:
    """One team's line; ``elapsed`` is ``month_elapsed`` of the moment the spend was added up."""
    projected = (spent_usd / Decimal(str(elapsed))).quantize(Decimal("0.01")) if spent_usd else Decimal(0)
    return BudgetLine(tag_key, tag_value, budget_usd, spent_usd, projected)
