"""Celery doors into jobs.sync: thin on purpose."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from jobs import sync
from jobs.models import Source, SyncCycle
from jobs.sagemaker import SageMakerError
from jobs.sources import ensure_configured_sources


@shared_task
def sync_all_sources() -> int:
    """Beat's entry point: one sync task per enabled source."""
    ensure_configured_sources()
    interval = settings.TRAINWATCH_SYNC_INTERVAL
    ids = list(Source.objects.filter(enabled=True).values_list("pk", flat=True))
    for source_id in ids:
        sync_source.apply_async(args=[source_id], expires=max(interval - 1, 1))
    return len(ids)


@shared_task
def sync_source(source_id: int) -> str:
    lease = settings.TRAINWATCH_SYNC_INTERVAL * 5
    if not sync.claim_source(source_id, now=timezone.now(), lease_seconds=lease):
        return "skipped: another cycle holds the lease"
    try:
        source = Source.objects.get(pk=source_id)
        cycle = sync.run_cycle(source, dispatch=_fan_out)
        return f"cycle {cycle.pk}: listed {cycle.listed}, queued {cycle.queued}"
    finally:
        sync.release_source(source_id)


def _fan_out(cycle: SyncCycle, names: list[str]) -> None:
    for name in names:
        describe_job.delay(cycle.source_id, name, cycle.pk)


@shared_task(
    autoretry_for=(SageMakerError,),
    retry_backoff=2,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=8,
)
def describe_job(source_id: int, name: str, cycle_id: int | None = None) -> str:
    """Describe one job; throttling, 5xx and connection errors retry with backoff."""
    source = Source.objects.get(pk=source_id)
    is_last_try = describe_job.request.retries >= describe_job.max_retries
    result = sync.describe_and_store(source, name, cycle_id=cycle_id, raise_retryable=not is_last_try)
    return result.error or str(result.outcome)
