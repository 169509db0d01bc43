"""Time-based alerts: running jobs past a share of their MaxRuntime, sources that stopped syncing.

No change marks the moment a job crosses 90 % of its MaxRuntime, so these
are decided by the delivery sweep (every few seconds) and by ``sync_jobs``,
from the running jobs in one query however many there are; the
UNIQUE(rule, job, event) constraint keeps each one to a single alert when
sweeps overlap.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from alerts import domain
from alerts.decide import record
from alerts.models import Alert, AlertKind, AlertRule
from jobs.domain.health import SyncState
from jobs.models import Source, TrainingJob

UNHEALTHY = frozenset({SyncState.STALE, SyncState.FAILING, SyncState.UNFINISHED})


def decide_limits(*, now: datetime | None = None) -> list[Alert]:
    """Record an alert for every running job past its rule's share of MaxRuntime, once."""
    now = now or timezone.now()
    rules = list(AlertRule.objects.active().filter(kind=AlertKind.NEAR_MAX_RUNTIME))
    if not rules:
        return []
    running = TrainingJob.objects.running().filter(max_runtime_seconds__isnull=False, training_start_time__isnull=False)
    alerts = []
    for job in running.values(
        "id", "name", "tags", "source_id", "status", "secondary_status", "training_start_time", "max_runtime_seconds"
    ):
        for rule in rules:
            event = domain.near_limit_event(
                start=job["training_start_time"],
                max_runtime_seconds=job["max_runtime_seconds"],
                share_percent=rule.share_percent,
                now=now,
                rule_created_at=rule.created_at,
            )
            if event is None or not rule.scope.covers(
                name=job["name"], tags=job["tags"] or {}, source_id=job["source_id"]
            ):
                continue
            alerts.append(
                Alert(
                    rule=rule,
                    job_id=job["id"],
                    event=event,
                    status=job["status"],
                    secondary_status=job["secondary_status"],
                    created_at=now,
                )
            )
    with transaction.atomic():
        return record(alerts, now)


def decide_source_health(*, now: datetime | None = None) -> list[Alert]:
    """Record an alert, once per outage, for every enabled source that is stale, failing or abandoned.

    The state is jobs.domain.health's, the one /healthz and the status page
    show. A source never synced yet is left alone: it is being set up.
    """
    now = now or timezone.now()
    rules = list(AlertRule.objects.active().filter(kind=AlertKind.SOURCE_HEALTH))
    if not rules:
        return []
    alerts = []
    for source in Source.objects.filter(enabled=True):
        health = source.health(now)
        event = domain.outage_event(unhealthy=health.state in UNHEALTHY, last_success_at=source.last_success_at)
        if event is None:
            continue
        for rule in rules:
            if rule.scope_source_id is not None and rule.scope_source_id != source.pk:
                continue
            alerts.append(Alert(rule=rule, source=source, event=event, status=health.state.label, created_at=now))
    with transaction.atomic():
        return record(alerts, now)
