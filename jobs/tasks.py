"""Celery doors into jobs.sync: thin on purpose."""

from __future__ import annotations

from celery import Task, shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.utils import timezone

from jobs import cloudwatch_sync, maintenance, sync, tuning_sync
from jobs.domain.chunks import chunked
from jobs.models import Source, SyncCycle
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
    if not sync.claim_source(source_id, now=timezone.now()):
        return "skipped: another cycle holds the lease"
    try:
        source = Source.objects.get(pk=source_id)
        cycle = sync.run_cycle(source, dispatch=_fan_out)
        return f"cycle {cycle.pk}: listed {cycle.listed}, queued {cycle.queued}"
    finally:
        sync.release_source(source_id)


def _fan_out(cycle: SyncCycle, names: list[str]) -> None:
    for chunk in chunked(names, sync.DESCRIBE_CHUNK):
        describe_jobs.delay(cycle.source_id, chunk, cycle.pk)


@shared_task(bind=True, max_retries=8)
def describe_jobs(self: Task, source_id: int, names: list[str], cycle_id: int | None = None) -> str:
    """Describe a chunk of jobs and store them together.

    Names that hit throttling, 5xx or connection errors are queued again, on
    their own, with exponential backoff and jitter; the rest are stored now.
    On the last try those failures are recorded instead.
    """
    source = Source.objects.get(pk=source_id)
    last_try = self.request.retries >= self.max_retries
    chunk = sync.describe_chunk(source, names, cycle_id=cycle_id, keep_retryable=not last_try)
    if chunk.retry:
        countdown = get_exponential_backoff_interval(2, self.request.retries, 120, full_jitter=True)
        raise self.retry(args=[source_id, list(chunk.retry), cycle_id], countdown=countdown)
    return f"described {len(chunk.results)}"


@shared_task
def sync_cloudwatch_all() -> int:
    """Beat's entry point for CloudWatch: one fetch task per enabled source."""
    if not settings.TRAINWATCH_CLOUDWATCH:
        return 0
    interval = settings.TRAINWATCH_SYNC_INTERVAL
    ids = list(Source.objects.filter(enabled=True).values_list("pk", flat=True))
    for source_id in ids:
        sync_cloudwatch.apply_async(args=[source_id], expires=max(interval - 1, 1))
    return len(ids)


@shared_task
def sync_cloudwatch(source_id: int) -> str:
    """New metric points and log events of one source's jobs (jobs.cloudwatch_sync).

    Its own task, so a slow or throttled CloudWatch never holds up the job
    sync; what failed is a SyncError and is asked again next interval.
    """
    return str(cloudwatch_sync.run(Source.objects.get(pk=source_id)))


@shared_task
def sync_tuning_all() -> int:
    """Beat's entry point for tuning jobs: describe those of running trials, per enabled source."""
    count = 0
    for source in Source.objects.filter(enabled=True):
        count += tuning_sync.run(source).described
    return count


@shared_task
def optimize_database() -> str:
    """Hourly (beat): refresh the database's planner statistics."""
    maintenance.optimize_database()
    return "optimized"


@shared_task
def prune_history() -> str:
    """Hourly (beat): delete sync cycles and errors older than ``TRAINWATCH_RETENTION_DAYS``."""
    pruned = maintenance.prune_history(timezone.now())
    return ", ".join(f"{name}: {count}" for name, count in pruned.items()) or "retention off"
