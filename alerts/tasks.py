"""Celery door into alerts.delivery: thin on purpose."""

from __future__ import annotations

from celery import shared_task

from alerts import delivery, limits


@shared_task
def deliver_alerts() -> str:
    """Beat's delivery sweep: decide the time-based alerts (alerts.limits), send the due ones, grouped."""
    limits.decide_limits()
    limits.decide_stalls()
    limits.decide_metric_stalls()
    limits.decide_budgets()
    limits.decide_source_health()
    sweep = delivery.deliver_due()
    return f"sent {sweep.sent}, failed {sweep.failed}, held {sweep.held}"
