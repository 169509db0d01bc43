"""Alerts are history too: pruned with the sync history after ``TRAINWATCH_RETENTION_DAYS``."""

from __future__ import annotations

from datetime import datetime

from alerts.models import Alert, DeliveryStatus
from jobs.maintenance import PRUNE_BATCH, delete_in_batches


def prune_alerts(cutoff: datetime, batch: int = PRUNE_BATCH) -> int:
    """Alerts (and their deliveries) older than ``cutoff`` whose sending is over.

    No event comes back after that long (a job fails once; a restart's key
    carries its time), so forgetting the alert never sends it twice. The
    table stays small once pruned: no index of its own on created_at.
    """
    unfinished = Alert.objects.filter(deliveries__status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING])
    return delete_in_batches(Alert.objects.filter(created_at__lt=cutoff).exclude(pk__in=unfinished), batch)
