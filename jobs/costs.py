"""Estimated cost of jobs from the InstancePrice table.

Pages load the whole (small) price table once per request and price each
job in Python, so a page of 50 jobs costs one query, not 50.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Cost:
    """A job's estimated cost and the billed time it was priced from."""

    usd: Decimal | None  # None: an instance type has no price
    billed: billing.BilledTime

    @property
    def basis(self) -> str:
        return self.billed.basis


def job_price(job: TrainingJob, prices: Prices, *, now: datetime) -> Cost | None:
    """What AWS bills (its BillableTimeInSeconds once reported) x the job's hourly rate.

    None when nothing is billed yet (training never started, nothing reported).
    """
    billed = job.billed_time(now)
    if billed is None:
        return None
    rate = hourly_rate(job, prices)
    # The rate covers every instance (of every group): price one instance's time.
    return Cost(billing.estimated_cost(billed.per_instance, rate), billed)


def job_cost(job: TrainingJob, prices: Prices, *, now: datetime) -> Decimal | None:
    """``job_price``'s figure alone, to the cent."""
    cost = job_price(job, prices, now=now)
    return cost.usd if cost is not None else None
