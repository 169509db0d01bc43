"""Send committed deliveries: grouped per rule and channel, claimed first, retried with backoff.

A sweep (``deliver_due``) reads what is due: pending deliveries whose next
attempt has come, and ones left "sending" longer than ``SENDING_TIMEOUT``
(their worker was killed mid-send). It claims a group with one conditional
UPDATE (status, a claim token, attempts + 1), so two sweeps never send the
same attempt, then sends one message for the group. The attempt is counted
before the send: a worker killed after the channel got the message leads to
one more attempt (the receiver can drop it by the idempotency key, the
group's batch, the same on every attempt), never to none. A channel that
keeps failing is marked unhealthy and backs off on its own; other channels'
groups are sent in the same sweep regardless.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from alerts import channels, domain
from alerts.limits import UNHEALTHY
from alerts.models import Channel, Delivery, DeliveryStatus
from jobs.costs import job_price, price_table

log = logging.getLogger("jobs.alerts")

SENDING_TIMEOUT = timedelta(minutes=5)  # far longer than Apprise's own request timeouts
MAX_ATTEMPTS = 10
UNHEALTHY_AFTER = 3  # failed sends in a row
GROUP_LIMIT = 500  # deliveries per message


@dataclass
class Sweep:
    sent: int = 0  # messages
    failed: int = 0
    held: int = 0  # groups still waiting for quiet


def _due(now: datetime) -> Q:
    return Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, attempt_started_at__lt=now - SENDING_TIMEOUT
    )


def deliver_due(*, now: datetime | None = None, quiet_seconds: int | None = None) -> Sweep:
    """Send every due group once; ``quiet_seconds`` 0 sends at once (sync_jobs: its cycle is over)."""
    now = now or timezone.now()
    quiet = settings.TRAINWATCH_ALERT_QUIET_SECONDS if quiet_seconds is None else quiet_seconds
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in (
        Delivery.objects.filter(_due(now), channel__enabled=True)
        .order_by("id")
        .values("id", "batch", "channel_id", "alert__rule_id", "created_at")[:10_000]
    ):
        # A retry keeps its batch (and so its idempotency key); new ones group by rule and channel.
        key = ("batch", row["batch"]) if row["batch"] else ("new", row["channel_id"], row["alert__rule_id"])
        groups[key].append(row)
    sweep = Sweep()
    prices = None
    for key, rows in groups.items():
        if key[0] == "new" and quiet:
            newest = max(r["created_at"] for r in rows)
            oldest = min(r["created_at"] for r in rows)
            if newest > now - timedelta(seconds=quiet) and oldest > now - timedelta(seconds=quiet * 10):
                sweep.held += 1
                continue
        for start in range(0, len(rows), GROUP_LIMIT):
            chunk = rows[start : start + GROUP_LIMIT]
            batch = key[1] if key[0] == "batch" else uuid.uuid4().hex
            claimed = _claim([r["id"] for r in chunk], batch, now)
            if not claimed:
                continue
            if prices is None:
                prices = price_table()
            if _send(claimed, batch, prices, now):
                sweep.sent += 1
            else:
                sweep.failed += 1
    return sweep


def _claim(ids: list[int], batch: str, now: datetime) -> list[Delivery]:
    token = uuid.uuid4().hex
    Delivery.objects.filter(_due(now), pk__in=ids).update(
        status=DeliveryStatus.SENDING, claim=token, batch=batch, attempts=F("attempts") + 1, attempt_started_at=now
    )
    return list(
        Delivery.objects.filter(claim=token)
        .select_related("channel", "alert__rule", "alert__job__source", "alert__source")
        .order_by("alert__job__name", "alert__source__name", "alert__event", "id")
    )


def _send(deliveries: list[Delivery], batch: str, prices: dict[str, Any], now: datetime) -> bool:
    channel = deliveries[0].channel
    rule = deliveries[0].alert.rule
    if rule.kind == domain.SOURCE_HEALTH:
        message = domain.render_sources(rule.name, [_alerted_source(d, now) for d in deliveries], key=batch)
    elif rule.kind == domain.TEAM_BUDGET:
        message = domain.render_budgets(rule.name, [_alerted_budget(d) for d in deliveries], key=batch)
    else:
        message = domain.render(rule.name, rule.kind, [_alerted(d, prices, now) for d in deliveries], key=batch)
    result = channels.send(channel.url, title=message.title, body=message.body, key=batch, fields=message.fields)
    ids = [d.pk for d in deliveries]
    mine = Delivery.objects.filter(pk__in=ids, claim=deliveries[0].claim)
    done = timezone.now()
    if result.ok:
        mine.update(status=DeliveryStatus.SENT, sent_at=done, last_error="")
        Channel.objects.filter(pk=channel.pk).update(
            healthy=True, consecutive_failures=0, last_success_at=done, last_error=""
        )
        return True
    attempts = max(d.attempts for d in deliveries)
    log.warning("alert to channel %s failed (attempt %s): %s", channel.name, attempts, result.error)
    if attempts >= MAX_ATTEMPTS:
        mine.update(status=DeliveryStatus.FAILED, last_error=result.error)
    else:
        mine.update(
            status=DeliveryStatus.PENDING,
            last_error=result.error,
            next_attempt_at=now + timedelta(seconds=domain.backoff_seconds(attempts)),
        )
    Channel.objects.filter(pk=channel.pk).update(
        consecutive_failures=F("consecutive_failures") + 1, last_failure_at=done, last_error=result.error
    )
    Channel.objects.filter(pk=channel.pk, consecutive_failures__gte=UNHEALTHY_AFTER).update(healthy=False)
    return False


def job_url(job_id: int) -> str:
    return settings.TRAINWATCH_BASE_URL + reverse("jobs:detail", args=[job_id])


def _alerted(delivery: Delivery, prices: dict[str, Any], now: datetime) -> domain.AlertedJob:
    """The job as stored now: a listing may have decided the alert before the describe brought the reason."""
    job = delivery.alert.job
    cost = job_price(job, prices, now=now)
    end = job.training_end_time or (job.last_modified_time if job.is_terminal else None) or now
    return domain.AlertedJob(
        name=job.name,
        status=job.status,
        secondary_status=job.secondary_status,
        failure_reason=job.failure_reason,
        duration_seconds=max((end - job.creation_time).total_seconds(), 0),
        cost_usd=cost.usd if cost is not None else None,
        cost_basis=cost.basis if cost is not None else "",
        tags=job.tags if isinstance(job.tags, dict) else {},
        source=job.source.name,
        url=job_url(job.pk),
        event=delivery.alert.event,
        note=str((delivery.alert.details or {}).get("note", "")),
    )


def _alerted_budget(delivery: Delivery) -> domain.AlertedBudget:
    """As decided: the spend that crossed the budget, and the costliest jobs then."""
    details = delivery.alert.details or {}
    return domain.AlertedBudget(
        tag_key=str(details.get("tag_key", "")),
        team=str(details.get("team", "")),
        spend_usd=Decimal(str(details.get("spend_usd", "0"))),
        budget_usd=Decimal(str(details.get("budget_usd", "0"))),
        day=str(details.get("day", "")),
        top_jobs=[
            domain.BudgetJob(str(j.get("name", "")), Decimal(str(j.get("cost_usd", "0"))), str(j.get("url", "")))
            for j in details.get("top_jobs", [])
        ],
    )


def _alerted_source(delivery: Delivery, now: datetime) -> domain.AlertedSource:
    source = delivery.alert.source
    health = source.health(now)
    # The state the alert was decided on: a source that recovered before the
    # message went out must not read "not syncing: ok".
    reason = health.reason if health.state in UNHEALTHY else f"since recovered: {health.reason}"
    return domain.AlertedSource(
        name=source.name,
        state=delivery.alert.status or health.state.label,
        reason=reason,
        last_success_at=source.last_success_at,
        url=settings.TRAINWATCH_BASE_URL + reverse("jobs:status"),
    )


def send_test(channel: Channel) -> channels.SendResult:
    """The admin's "send a test message": straight to the channel, recorded on its health."""
    key = uuid.uuid4().hex
    result = channels.send(
        channel.url,
        title="Trainwatch test message",
        body=f"Alerts from Trainwatch ({settings.TRAINWATCH_BASE_URL}) reach this channel.\nAlert id: {key}",
        key=key,
        fields={"idempotency_key": key, "kind": "test", "count": 0, "jobs": []},
    )
    done = timezone.now()
    if result.ok:
        Channel.objects.filter(pk=channel.pk).update(healthy=True, consecutive_failures=0, last_success_at=done)
    else:
        Channel.objects.filter(pk=channel.pk).update(last_failure_at=done, last_error=result.error)
    return result
