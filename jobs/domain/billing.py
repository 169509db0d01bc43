"""Billable time and cost, as AWS bills training jobs.

AWS bills BillableTimeInSeconds per instance at the on-demand rate: for a
managed spot job that is less than its training time (the spot savings).
Warm-pool time kept after the end (ResourceRetainedBillableTimeInSeconds)
is billed as well. Until AWS reports the figure (while running, or for a
response without it) the estimate is TrainingStartTime -> TrainingEndTime
(or now); provisioning before the start is free. Every per-instance figure
multiplies by the instance count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

# Which figure a billed time (and the cost priced from it) comes from.
AWS = "aws"  # BillableTimeInSeconds (+ warm-pool retained time) x instances
START_TO_END = "start-to-end"  # finished, but AWS reported no billable time
RUNNING = "running so far"  # TrainingStartTime -> now
LAST_SEEN = "until last seen"  # gone at the source: TrainingStartTime -> the last describe

BASIS_LABELS = {
    AWS: ("AWS", "AWS's BillableTimeInSeconds x instances at the on-demand rate (spot savings included)"),
    START_TO_END: ("start-end", "Training start to end x instances: AWS reported no billable time"),
    RUNNING: ("so far", "Running: training start to now x instances"),
    LAST_SEEN: ("last seen", "Gone at the source: training start to the last describe x instances"),
}


@dataclass(frozen=True)
class BilledTime:
    """Instance-seconds billed, and which figure they come from (one of the bases above)."""

    seconds: int  # every instance together
    basis: str
    per_instance: int
    retained_seconds: int = 0  # warm-pool time included in ``seconds``, every instance together

    @property
    def label(self) -> str:
        return BASIS_LABELS[self.basis][0]

    @property
    def explanation(self) -> str:
        return BASIS_LABELS[self.basis][1]


def billed_seconds(
    *,
    start: datetime | None,
    end: datetime | None,
    instance_count: int,
    reported_per_instance: int | None,
    retained_per_instance: int | None,
    finished: bool,
    now: datetime,
    gone: bool = False,
    last_seen: datetime | None = None,
) -> BilledTime | None:
    """What AWS bills for a job: its own figure once finished, else start to end (or now).

    ``finished``: the job is in a terminal status. ``gone``: the source no
    longer knows it, so it is billed to ``last_seen`` (its last describe),
    not to a now that grows forever. None when training never started and
    AWS reported nothing (a job that failed while provisioning costs nothing).
    """
    count = max(instance_count, 1)
    retained = max(retained_per_instance or 0, 0)
    if finished and reported_per_instance is not None:
        per_instance = max(reported_per_instance, 0) + retained
        return BilledTime(per_instance * count, AWS, per_instance, retained * count)
    if start is None:
        return None
    if finished:
        stop, basis = end or last_seen or now, START_TO_END
    elif gone:
        stop, basis = last_seen or now, LAST_SEEN
        retained = 0
    else:
        stop, basis = end or now, RUNNING
        retained = 0
    per_instance = max(0, int((stop - start).total_seconds())) + retained
    return BilledTime(per_instance * count, basis, per_instance, retained * count)


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
