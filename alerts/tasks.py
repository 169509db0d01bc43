"""Celery door into alerts.delivery: thin on purpose."""

from __future__ import annotations

from celery import shared_task

from alerts import delivery


@shared_task
def deliver_alerts() -> str:
    """Beat's delivery sweep: send the due alerts, grouped (alerts.delivery)."""
    sweep = delivery.deliver_due()
    return f"sent {sweep.sent}, failed {sweep.failed}, held {sweep.held}"
