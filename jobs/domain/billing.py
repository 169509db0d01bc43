"""Billable time and cost, as AWS bills training jobs.

AWS bills TrainingStartTime -> TrainingEndTime per instance; provisioning
before the start is free. BillableTimeInSeconds and TrainingTimeInSeconds are
per instance, so every total multiplies by the instance count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal


def instance_count_of(instance_count: int | None, group_counts: Sequence[int], selected_count: int | None) -> int:
    """Instances billed: SelectedInstanceCount, else the groups' sum, else InstanceCount."""
    if selected_count:
        return selected_count
    if group_counts:
        return sum(group_counts)
    return instance_count or 0


def billable_seconds(
    start: datetime | None,
    end: datetime | None,
    instance_count: int,
    *,
    now: datetime,
) -> int | None:
    """Instance-seconds billed from start to end (to ``now`` while running).

    None when training never started (jobs that failed while provisioning
    have no TrainingStartTime and cost nothing).
    """
    if start is None:
        return None
    stop = end or now
    per_instance = max(0, int((stop - start).total_seconds()))
    return per_instance * max(instance_count, 1)


def reported_billable_total(reported_per_instance: int | None, instance_count: int) -> int | None:
    """AWS's own BillableTimeInSeconds times the instance count."""
    if reported_per_instance is None:
        return None
    return reported_per_instance * max(instance_count, 1)


def spot_savings_percent(billable_per_instance: int | None, training_per_instance: int | None) -> float | None:
    """Managed spot savings: (1 - billable / training) x 100."""
    if not billable_per_instance and billable_per_instance != 0:
        return None
    if not training_per_instance:
        return None
    return round((1 - billable_per_instance / training_per_instance) * 100, 1)


def warm_pool_retained_total(retained_per_instance: int | None, instance_count: int) -> int | None:
    if retained_per_instance is None:
        return None
    return retained_per_instance * max(instance_count, 1)


def estimated_cost(instance_seconds: int | None, hourly_price: Decimal | None) -> Decimal | None:
    """Cost of instance-seconds at a per-instance hourly price, to the cent."""
    if instance_seconds is None or hourly_price is None:
        return None
    return (Decimal(instance_seconds) / Decimal(3600) * hourly_price).quantize(Decimal("0.01"))
