"""JSON shapes of the API: a list row, and the detail that adds configuration.

Plain functions building dicts: DRF serializers spent more time per row
walking their fields than the page's queries took. The output is what the
serializers gave: model values as stored, floats for cost and metrics, and
timestamps as ISO 8601 in UTC ("...Z") whatever TIME_ZONE the deployment
runs in.

They read only what the view prefetched (source, metrics, transitions), a
price table and ``now``, so a page costs the same number of queries
whatever its size.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobs import costs
from jobs.costs import Prices
from jobs.domain.dates import utc_iso
from jobs.models import TrainingJob


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def job_data(
    job: TrainingJob, prices: Prices, now: datetime, final_metrics: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One row of the job list; ``final_metrics`` as the list fetched them, else the prefetched ones."""
    cost = costs.job_price(job, prices, now=now)
    return {
        "id": job.pk,
        "name": job.name,
        "arn": job.arn,
        "status": job.status,
        "secondary_status": job.secondary_status,
        "failure_reason": job.failure_reason,
        "creation_time": utc_iso(job.creation_time),
        "training_start_time": utc_iso(job.training_start_time),
        "training_end_time": utc_iso(job.training_end_time),
        "last_modified_time": utc_iso(job.last_modified_time),
        "instance_type": job.instance_type,
        "instance_count": _int(job.instance_count),
        # Instance-seconds, start to end x instances; for a running job, so far.
        "billable_seconds": job.billable_seconds_now(now),
        # AWS's BillableTimeInSeconds x instance count (spot savings included); null until reported.
        "reported_billable_seconds": job.reported_billable_total,
        # USD at the InstancePrice table's on-demand rates.
        "estimated_cost": float(cost.usd) if cost is not None and cost.usd is not None else None,
        # What estimated_cost was priced from: "aws" (BillableTimeInSeconds + warm pool, x instances),
        # "start-to-end" (AWS reported none), "running so far"; null when nothing is billed.
        "cost_basis": cost.basis if cost is not None else None,
        "billed_seconds": cost.billed.seconds if cost is not None else None,
        "source": job.source.name,
        # Not found on TRAINWATCH_GONE_AFTER describes in a row: the status is the last one seen.
        "gone_at_source": job.is_gone,
        "tags": job.tags,
        "final_metrics": (
            final_metrics
            if final_metrics is not None
            else [{"name": m.name, "value": float(m.value)} for m in job.metrics.all()]
        ),
    }


def job_detail_data(job: TrainingJob, prices: Prices, now: datetime) -> dict[str, Any]:
    """A job's list row plus its configuration and status history."""
    data = job_data(job, prices, now)
    data.update(
        {
            "region": job.region,
            "transitions": [
                {
                    "status": t.status,
                    "start_time": utc_iso(t.start_time),
                    "end_time": utc_iso(t.end_time),
                    "message": t.message,
                }
                for t in job.transitions.all()
            ],
            "hyperparameters": job.hyperparameters,
            "instance_groups": job.instance_groups,
            "volume_size_gb": _int(job.volume_size_gb),
            "keep_alive_seconds": _int(job.keep_alive_seconds),
            "is_spot": job.is_spot,
            "spot_savings_percent": _float(job.spot_savings_percent),
            "max_runtime_seconds": _int(job.max_runtime_seconds),
            "max_wait_seconds": _int(job.max_wait_seconds),
            "max_pending_seconds": _int(job.max_pending_seconds),
            "algorithm": job.algorithm,
            "input_channels": job.input_channels,
            "output_path": job.output_path,
            "model_artifacts": job.model_artifacts,
            "role_arn": job.role_arn,
            "tuning_job_arn": job.tuning_job_arn,
            "labeling_job_arn": job.labeling_job_arn,
            "network_isolation": job.network_isolation,
            "inter_container_encryption": job.inter_container_encryption,
            "training_time_seconds": _int(job.training_time_seconds),
            "warm_pool_status": job.warm_pool_status,
            "warm_pool_retained_seconds": _int(job.warm_pool_retained_seconds),
            "warm_pool_retained_total": _int(job.warm_pool_retained_total),
            "failure_signature": job.failure_signature,
            "described_at": utc_iso(job.described_at),
            "gone_at": utc_iso(job.gone_at),
            "not_found_count": _int(job.not_found_count),
        }
    )
    return data
