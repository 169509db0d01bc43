"""Decide alerts from the change seam, inside the transaction that stored the change.

``jobs.ingest.record_changes`` writes the JobChange rows and sends
``jobs.signals.changes_recorded`` before its transaction commits; this
module's receiver turns the changes into Alert rows (one per rule, job and
event, UNIQUE in the database) and a pending Delivery per channel. Chosen
over a reader that takes JobChange rows after a stored cursor because the
alert then commits or rolls back with the change itself: the worker that
lost a race to store a response records no change (it saw the winner's row
under the lock), so it decides nothing; a worker killed before the commit
leaves neither; and there is no cursor to lock, lag or lose. Sending is
not done here: ``alerts.delivery`` sends committed deliveries later, with
retries, so a slow channel never holds a store's row locks.

The queries do not grow with the number of changes: none at all when no
change can fire a rule (a running job moving phase), one (the rules) when
no active rule fires, else a fixed handful: the rules, the jobs (only for a
rule scoped by tag or name), the sources (only for jobs first seen
finished), insert the alerts, read them back, their rules' channels (and
the default ones), insert the deliveries.

The built-in rules (failed, stopped, time limit, restarted, near MaxRuntime;
completed muted) are created by the migration that creates the tables
(alerts/migrations/0001_alerts.py), so they predate the first import; the
stall and team budget rules by 0002_stalls_and_budgets.py, the metric stall
rule by 0003_metric_stalls.py (decided, like
near MaxRuntime, by alerts.limits rather than from a change).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts import domain
from alerts.models import Alert, AlertKind, AlertRule, Channel, Delivery
from jobs.domain.statuses import TERMINAL
from jobs.models import JobChange, Source, TrainingJob

IN_CHUNK = 900  # SQLite's cap on bound parameters per query


def on_changes_recorded(sender: Any, changes: Sequence[JobChange], **kwargs: Any) -> None:
    decide(changes)


def decide(changes: Sequence[JobChange]) -> list[Alert]:
    """Record the alerts ``changes`` fire and their pending deliveries; must run in the store's transaction."""
    candidates = [(c, _change(c)) for c in changes]
    candidates = [(c, d) for c, d in candidates if domain.may_alert(d)]
    kinds = {kind for kind in AlertKind.values for _, d in candidates if domain.event_for(kind, d) is not None}
    if not kinds:
        return []
    rules = list(AlertRule.objects.active().filter(kind__in=sorted(kinds)))
    if not rules:
        return []
    jobs = _jobs(sorted({c.job_id for c, _ in candidates})) if any(_reads_job(r) for r in rules) else {}
    first_sights = {c.source_id for c, d in candidates if d.is_new and d.new_status in TERMINAL}
    synced = (
        dict(Source.objects.filter(pk__in=first_sights).values_list("pk", "last_success_at")) if first_sights else {}
    )
    now = timezone.now()
    alerts: list[Alert] = []
    for change, seen in candidates:
        job = jobs.get(change.job_id, {"name": "", "tags": {}})
        for rule in rules:
            event = domain.event_for(rule.kind, seen)
            if event is None:
                continue
            if domain.is_history(
                seen, rule_created_at=rule.created_at, source_synced_before=synced.get(change.source_id) is not None
            ):
                continue
            if not rule.scope.covers(name=job["name"], tags=job["tags"] or {}, source_id=change.source_id):
                continue
            alerts.append(
                Alert(
                    rule=rule,
                    job_id=change.job_id,
                    event=event,
                    status=change.new_status,
                    secondary_status=change.new_secondary_status,
                    created_at=now,
                )
            )
    return record(alerts, now)


def record(alerts: list[Alert], now: datetime) -> list[Alert]:
    """Insert the alerts not yet decided (UNIQUE rule, job, event) and a pending delivery per channel.

    Returns the alerts decided now; one another worker decided first is skipped.
    """
    if not alerts:
        return []
    Alert.objects.bulk_create(alerts, ignore_conflicts=True)
    # ignore_conflicts returns no ids: read back the ones decided now.
    wanted = {(a.rule_id, a.job_id, a.source_id, a.event) for a in alerts}
    decided_ids = sorted({a.job_id for a in alerts if a.job_id is not None})
    decided = [
        a
        for start in range(0, len(decided_ids), IN_CHUNK)
        for a in Alert.objects.filter(job_id__in=decided_ids[start : start + IN_CHUNK], created_at=now)
        if (a.rule_id, a.job_id, a.source_id, a.event) in wanted
    ]
    if any(a.job_id is None for a in alerts):  # source-health alerts: a handful
        decided += [
            a
            for a in Alert.objects.filter(job__isnull=True, created_at=now)
            if (a.rule_id, a.job_id, a.source_id, a.event) in wanted
        ]
    Delivery.objects.bulk_create(
        [
            Delivery(alert=a, channel_id=channel_id, next_attempt_at=now, created_at=now)
            for a, channel_ids in zip(decided, _channels_of([a.rule_id for a in decided]), strict=True)
            for channel_id in channel_ids
        ],
        ignore_conflicts=True,
    )
    return decided


def _reads_job(rule: AlertRule) -> bool:
    """A rule whose scope needs the job's name or tags (a source scope reads the change)."""
    return bool(rule.scope_tag or rule.scope_name_pattern)


def _jobs(job_ids: list[int]) -> dict[int, dict[str, Any]]:
    jobs: dict[int, dict[str, Any]] = {}
    for start in range(0, len(job_ids), IN_CHUNK):
        for row in TrainingJob.objects.filter(pk__in=job_ids[start : start + IN_CHUNK]).values("id", "name", "tags"):
            jobs[row["id"]] = row
    return jobs


def _channels_of(rule_ids: list[int]) -> list[list[int]]:
    """Each rule's enabled channels, in order; a rule with none of its own gets the default ones."""
    own: dict[int, list[int]] = {}
    for rule_id, channel_id, enabled in AlertRule.channels.through.objects.filter(
        alertrule_id__in=set(rule_ids)
    ).values_list("alertrule_id", "channel_id", "channel__enabled"):
        own.setdefault(rule_id, [])
        if enabled:
            own[rule_id].append(channel_id)
    defaults = _default_channel_ids() if any(r not in own for r in rule_ids) else []
    return [own.get(r, defaults) for r in rule_ids]


def _change(c: JobChange) -> domain.Change:
    return domain.Change(
        is_new=c.is_new,
        old_status=c.old_status,
        new_status=c.new_status,
        old_secondary_status=c.old_secondary_status,
        new_secondary_status=c.new_secondary_status,
        last_modified_time=c.last_modified_time,
        created_at=c.created_at,
    )


def configured_urls() -> list[str]:
    return list(settings.TRAINWATCH_ALERT_URLS)


def _default_channel_ids() -> list[int]:
    """The TRAINWATCH_ALERT_URLS channels, brought in step with the setting when it changed."""
    urls = configured_urls()
    rows = list(Channel.objects.filter(is_default=True).values_list("pk", "url", "enabled"))
    if sorted(url for _, url, _ in rows) != sorted(urls):
        try:
            with transaction.atomic():  # a savepoint: the store's transaction must survive a lost race
                ensure_default_channels()
        except IntegrityError:
            pass  # another worker created them first: read theirs
        rows = list(Channel.objects.filter(is_default=True).values_list("pk", "url", "enabled"))
    return [pk for pk, _, enabled in rows if enabled]


def ensure_default_channels() -> list[Channel]:
    """One channel per TRAINWATCH_ALERT_URLS entry (flagged is_default); others lose the flag."""
    urls = configured_urls()
    Channel.objects.filter(is_default=True).exclude(url__in=urls).update(is_default=False)
    channels = []
    for i, url in enumerate(urls, start=1):
        channel = Channel.objects.filter(url=url).order_by("pk").first()
        if channel is None:
            name = f"TRAINWATCH_ALERT_URLS #{i}"
            while Channel.objects.filter(name=name).exists():
                name += "'"
            channel = Channel.objects.create(name=name, url=url, is_default=True)
        elif not channel.is_default:
            channel.is_default = True
            channel.save(update_fields=["is_default"])
        channels.append(channel)
    return channels
