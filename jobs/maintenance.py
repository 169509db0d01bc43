"""Database upkeep: the query planner's statistics, and pruning old history (sync, logins)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from axes.models import AccessAttempt, AccessLog
from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from jobs.models import JobChange, Source, SyncCycle, SyncError

# Rows deleted per statement (and per transaction): a first prune of millions
# of rows then never holds one long transaction or lock over the table.
PRUNE_BATCH = 1000


def optimize_database() -> None:
    """Refresh SQLite's planner statistics; PostgreSQL's autovacuum does its own.

    Without statistics SQLite guesses that an equality on any index matches a
    handful of rows, so with 100,000 jobs it walks ``source_id`` over every
    job where the sync's due query and the pages' filters would search small
    indexes. ``analysis_limit`` samples each index, so this takes
    milliseconds whatever the size.
    """
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA analysis_limit=1000")
        cursor.execute("ANALYZE")


def delete_in_batches(rows: QuerySet, batch: int = PRUNE_BATCH) -> int:
    """Delete ``rows`` ``batch`` at a time, each batch its own short transaction."""
    deleted = 0
    while True:
        pks = list(rows.order_by().values_list("pk", flat=True)[:batch])
        if not pks:
            return deleted
        rows.model.objects.filter(pk__in=pks).delete()
        deleted += len(pks)


def prune_sync_errors(cutoff: datetime, batch: int = PRUNE_BATCH) -> int:
    # syncerror_created_idx finds them.
    return delete_in_batches(SyncError.objects.filter(created_at__lt=cutoff), batch)


def prune_sync_cycles(cutoff: datetime, batch: int = PRUNE_BATCH) -> int:
    # Per source, so cycle_source_started_idx (source, -started_at) finds them.
    # Errors of a pruned cycle that are still young keep their row (cycle: NULL).
    deleted = 0
    for source_id in Source.objects.values_list("pk", flat=True):
        deleted += delete_in_batches(SyncCycle.objects.filter(source_id=source_id, started_at__lt=cutoff), batch)
    return deleted


def prune_job_changes(cutoff: datetime, batch: int = PRUNE_BATCH) -> int:
    # The ingest outbox: its readers are long past rows this old. jobchange_created_idx finds them.
    return delete_in_batches(JobChange.objects.filter(created_at__lt=cutoff), batch)


def prune_login_attempts(cutoff: datetime, batch: int = PRUNE_BATCH) -> int:
    # django-axes deletes expired attempts itself, but only when someone logs in.
    # A cool-off past the retention still holds: no live lockout is lifted early.
    return delete_in_batches(AccessAttempt.objects.filter(attempt_time__lt=cutoff - settings.AXES_COOLOFF_TIME), batch)


def prune_login_log(cutoff: datetime, batch: int = PRUNE_BATCH) -> int:
    # One row per successful login; attempt_time has no index, and the table stays small once pruned.
    return delete_in_batches(AccessLog.objects.filter(attempt_time__lt=cutoff), batch)


Pruner = Callable[[datetime, int], int]

# What ``prune_history`` prunes, by name: each takes (cutoff, batch) and
# returns how many rows it deleted. Other history adds its own pruner here.
PRUNERS: dict[str, Pruner] = {
    "sync errors": prune_sync_errors,
    "sync cycles": prune_sync_cycles,
    "job changes": prune_job_changes,
    "login attempts": prune_login_attempts,
    "login log": prune_login_log,
}


def prune_history(now: datetime, *, days: int | None = None, batch: int = PRUNE_BATCH) -> dict[str, int]:
    """Delete history older than ``days`` (default ``TRAINWATCH_RETENTION_DAYS``; 0 keeps everything)."""
    days = settings.TRAINWATCH_RETENTION_DAYS if days is None else days
    if days <= 0:
        return {}
    cutoff = now - timedelta(days=days)
    return {name: prune(cutoff, batch) for name, prune in PRUNERS.items()}
