"""Estimated cost of jobs from the InstancePrice table.

Pages load the whole (small) price table once per request and price each
job in Python, so a page of 50 jobs costs one query, not 50.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from jobs.domain import billing
from jobs.models import InstancePrice, TrainingJob

Prices = dict[str, Decimal]


def price_table() -> Prices:
    return dict(InstancePrice.objects.values_list("instance_type", "hourly_usd"))


def hourly_rate(job: TrainingJob, prices: Prices) -> Decimal | None:
    """What one hour of the whole job costs: every group's count x its price.

    None when an instance type has no price: a partial figure would look
    like a real one.
    """
    return rate_for(job.instance_type, job.instance_count, job.instance_groups, prices)


def rate_for(instance_type: str, instance_count: int, instance_groups: Any, prices: Prices) -> Decimal | None:
    """``hourly_rate`` from the bare columns, for callers that read values()."""
    groups = [g for g in instance_groups or [] if isinstance(g, dict)]
    if groups:
        total = Decimal(0)
        for group in groups:
            price = prices.get(str(group.get("instance_type", "")))
            if price is None:
                return None
            total += price * int(group.get("instance_count") or 0)
        return total
    price = prices.get(instance_type)
    if price is None:
        return None
    return price * max(instance_count, 1)


def job_cost(job: TrainingJob, prices: Prices, *, now: datetime) -> Decimal | None:
    """Billable time so far x the job's hourly rate, to the cent."""
    rate = hourly_rate(job, prices)
    seconds = job.billable_seconds_now(now)
    if rate is None or seconds is None:
        return None
    per_instance = seconds / max(job.instance_count, 1)
    return billing.estimated_cost(round(per_instance), rate)
