"""Alert rules as pure functions: which event a change is, whether a rule covers a job, the message.

No Django, Celery or Apprise here (tested on their own in tests/test_alerts_domain.py).
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from jobs.domain import statuses
from jobs.domain.dates import format_duration

FAILED = "failed"
STOPPED = "stopped"
MAX_RUNTIME = "max_runtime_exceeded"
RESTARTED = "restarted"
COMPLETED = "completed"
NEAR_MAX_RUNTIME = "near_max_runtime"  # time-based: decided by alerts.limits, not from a change
SOURCE_HEALTH = "source_health"  # likewise, about a source rather than a job
STALLED = "stalled"  # time-based too: a running job too long in one phase (alerts.limits)
TEAM_BUDGET = "team_budget"  # a tag value's spend today over the rule's budget (alerts.limits)
METRICS_STALLED = "metrics_stalled"  # a running job's algorithm metrics stopped coming (alerts.limits)

# SecondaryStatus values (botocore's SecondaryStatus enum) each kind reacts to.
LIMIT_STATUSES = frozenset({"MaxRuntimeExceeded", "MaxWaitTimeExceeded"})
# A spot interruption or an internal error restarts the job (RetryStrategy,
# managed spot): Interrupted and Restarting, in either order, then Starting.
RESTART_STATUSES = frozenset({"Interrupted", "Restarting"})

# The statuses that can make any event: a change to anything else is decided
# without a query (most changes are a running job moving phase).
EVENT_STATUSES = frozenset({statuses.FAILED, statuses.STOPPED, statuses.COMPLETED})

REASON_LIMIT = 500  # characters of a failure reason in a message
LISTED_LIMIT = 20  # jobs named in the text of a grouped message; the JSON carries all


@dataclass(frozen=True)
class Change:
    """What a JobChange says, as the rules read it."""

    is_new: bool
    old_status: str
    new_status: str
    old_secondary_status: str
    new_secondary_status: str
    last_modified_time: datetime | None
    created_at: datetime


def may_alert(change: Change) -> bool:
    """False when no kind of rule could fire on this change (no query needed)."""
    return (
        change.new_status in EVENT_STATUSES
        or change.new_secondary_status in LIMIT_STATUSES
        or change.new_secondary_status in RESTART_STATUSES
    )


def event_for(kind: str, change: Change) -> str | None:
    """The event key of ``change`` for a rule of ``kind``, or None if it does not fire.

    The key makes an alert unique per (rule, job, event): a job fails once,
    but restarts many times, so a restart's key carries when it happened.
    """
    new, old = change.new_status, change.old_status
    secondary, old_secondary = change.new_secondary_status, change.old_secondary_status
    if kind == FAILED:
        return statuses.FAILED if new == statuses.FAILED and old != new else None
    if kind == STOPPED:
        # Stopped by a time limit is the max-runtime rule's event, not a second one.
        if new == statuses.STOPPED and old != new and secondary not in LIMIT_STATUSES:
            return statuses.STOPPED
        return None
    if kind == MAX_RUNTIME:
        return secondary if secondary in LIMIT_STATUSES and old_secondary != secondary else None
    if kind == RESTARTED:
        if secondary in RESTART_STATUSES and old_secondary not in RESTART_STATUSES and not change.is_new:
            moment = change.last_modified_time or change.created_at
            return f"restart@{moment.isoformat()}"
        return None
    if kind == COMPLETED:
        return statuses.COMPLETED if new == statuses.COMPLETED and old != new else None
    return None


def is_history(change: Change, *, rule_created_at: datetime, source_synced_before: bool) -> bool:
    """A change that happened before the rule existed, or a job first seen already finished.

    A job that is new and already terminal on its first store is history
    when its source has never finished a sync (Trainwatch first seeing an
    account: 30 days of failures are not news), or when AWS last moved it
    before the rule existed. Afterwards a job that starts and fails between
    two cycles is new and terminal too, and does alert.
    """
    if change.last_modified_time is not None and change.last_modified_time < rule_created_at:
        return True
    return change.is_new and change.new_status in statuses.TERMINAL and not source_synced_before


def parse_tag(scope: str) -> tuple[str, str] | None:
    """``key=value`` as a pair; None for an empty scope."""
    scope = scope.strip()
    if not scope:
        return None
    key, _, value = scope.partition("=")
    return key.strip(), value.strip()


@dataclass(frozen=True)
class Scope:
    """Which jobs a rule covers: all, or those matching every given criterion."""

    tag: str = ""  # key=value
    source_id: int | None = None
    name_pattern: str = ""  # shell-style, e.g. "resnet-*"

    def covers(self, *, name: str, tags: Mapping[str, str], source_id: int) -> bool:
        if self.source_id is not None and self.source_id != source_id:
            return False
        if self.name_pattern and not fnmatch.fnmatchcase(name, self.name_pattern):
            return False
        pair = parse_tag(self.tag)
        return pair is None or (isinstance(tags, Mapping) and tags.get(pair[0]) == pair[1])


# --- Message text ---------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
# Slack's <!channel>, <@U123>, <#C1>, <http://x|text>: no angle brackets, no tokens.
_ANGLES = str.maketrans({"<": "\u2039", ">": "\u203a"})  # single guillemets
# @channel, @here, @everyone (Slack, Discord, Teams): a word joiner after the @.
_MENTION = re.compile(r"@(?=(channel|here|everyone|all)\b)", re.IGNORECASE)
# Markdown links and images [text](url) and autolinks: break the "](" pair.
_LINK = re.compile(r"\]\s*\(")
_WORD_JOINER = "\u2060"


def neutralise(text: Any, limit: int | None = None) -> str:
    """Untrusted text (AWS, a job's container) made inert in every channel's markup.

    Shown as text: no Slack or Discord mention fires, no markdown link is
    formed, no control or bidi character reorders the line. Kept readable:
    angle brackets become single guillemets, a mention gets a word joiner.
    """
    text = unicodedata.normalize("NFC", str(text))
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "))
    text = text.translate(_ANGLES)
    text = _MENTION.sub("@" + _WORD_JOINER, text)
    text = _LINK.sub("]" + _WORD_JOINER + "(", text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


@dataclass(frozen=True)
class AlertedJob:
    """One job of a message, as stored."""

    name: str
    status: str
    secondary_status: str
    failure_reason: str
    duration_seconds: float | None
    cost_usd: Decimal | None
    cost_basis: str
    tags: Mapping[str, str]
    source: str
    url: str
    event: str
    note: str = ""  # what the rule saw beyond the job's fields (a stall: the phase, how long, the threshold)


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    fields: dict[str, Any] = field(default_factory=dict)


RULE_TITLES = {
    FAILED: "failed",
    STOPPED: "stopped",
    MAX_RUNTIME: "hit its time limit",
    RESTARTED: "restarted",
    COMPLETED: "completed",
    NEAR_MAX_RUNTIME: "is near its MaxRuntime",
    STALLED: "is stalled in one phase",
    METRICS_STALLED: "has sent no new metric point",
}


@dataclass(frozen=True)
class AlertedSource:
    """One source of a source-health message."""

    name: str
    state: str  # SyncState's label
    reason: str
    last_success_at: datetime | None
    url: str


def outage_event(*, unhealthy: bool, last_success_at: datetime | None) -> str | None:
    """One event per outage: keyed by the last success before it, so the next outage is a new one."""
    if not unhealthy:
        return None
    return f"unhealthy@{last_success_at.isoformat() if last_success_at else 'never'}"


def render_sources(rule_name: str, sources: Sequence[AlertedSource], *, key: str) -> Message:
    if len(sources) == 1:
        title = f"Source {neutralise(sources[0].name, 64)} is not syncing"
    else:
        title = f"{len(sources)} sources are not syncing"
    lines = [f"Rule: {neutralise(rule_name, 100)}", ""]
    fields_sources = []
    for source in sources:
        since = source.last_success_at.isoformat() if source.last_success_at else "never"
        lines.append(f"• {neutralise(source.name, 64)}: {source.state}; last synced {since}")
        lines.append(f"  {neutralise(source.reason, REASON_LIMIT)}")
        lines.append(f"  {source.url}")
        lines.append("")
        fields_sources.append(
            {
                "name": neutralise(source.name, 64),
                "state": source.state,
                "reason": neutralise(source.reason, REASON_LIMIT),
                "last_success_at": source.last_success_at.isoformat() if source.last_success_at else None,
                "url": source.url,
            }
        )
    lines.append(f"Alert id: {key}")
    fields = {
        "idempotency_key": key,
        "rule": neutralise(rule_name, 100),
        "kind": SOURCE_HEALTH,
        "count": len(sources),
        "sources": fields_sources,
        "jobs": [],
    }
    return Message(title, "\n".join(lines).strip(), fields)


def render(rule_name: str, kind: str, jobs: Sequence[AlertedJob], *, key: str) -> Message:
    """One message for every job of a group: the first ones in the text, all of them in ``fields``."""
    what = RULE_TITLES.get(kind, kind)
    if len(jobs) == 1:
        title = f"Training job {neutralise(jobs[0].name, 63)} {what}"
    else:
        title = f"{len(jobs)} training jobs {what}"
    lines = [f"Rule: {neutralise(rule_name, 100)}", ""]
    for job in jobs[:LISTED_LIMIT]:
        lines.extend(_job_lines(job))
        lines.append("")
    if len(jobs) > LISTED_LIMIT:
        lines.append(f"… and {len(jobs) - LISTED_LIMIT} more.")
    lines.append(f"Alert id: {key}")
    fields = {
        "idempotency_key": key,
        "rule": neutralise(rule_name, 100),
        "kind": kind,
        "count": len(jobs),
        "jobs": [_job_fields(job) for job in jobs],
    }
    return Message(title, "\n".join(lines).strip(), fields)


def _cost(job: AlertedJob) -> str:
    if job.cost_usd is None:
        return "unknown"
    return f"${job.cost_usd:,.2f} ({job.cost_basis})" if job.cost_basis else f"${job.cost_usd:,.2f}"


def _job_lines(job: AlertedJob) -> list[str]:
    lines = [
        f"• {neutralise(job.name, 63)}: {neutralise(job.status, 32)} / {neutralise(job.secondary_status, 64)}",
        f"  duration {format_duration(job.duration_seconds) or '-'}, cost so far {_cost(job)}, "
        f"source {neutralise(job.source, 64)}",
    ]
    if job.failure_reason:
        lines.append(f"  reason: {neutralise(job.failure_reason, REASON_LIMIT)}")
    if job.tags:
        tags = ", ".join(f"{neutralise(k, 128)}={neutralise(v, 256)}" for k, v in sorted(job.tags.items()))
        lines.append(f"  tags: {neutralise(tags, 500)}")
    if job.note:
        lines.append(f"  {neutralise(job.note, REASON_LIMIT)}")
    lines.append(f"  {job.url}")
    return lines


def _job_fields(job: AlertedJob) -> dict[str, Any]:
    return {
        "name": neutralise(job.name, 63),
        "status": neutralise(job.status, 32),
        "secondary_status": neutralise(job.secondary_status, 64),
        "event": neutralise(job.event, 100),
        "failure_reason": neutralise(job.failure_reason, REASON_LIMIT),
        "duration_seconds": job.duration_seconds,
        "cost_usd": str(job.cost_usd) if job.cost_usd is not None else None,
        "cost_basis": job.cost_basis,
        "tags": {neutralise(k, 128): neutralise(v, 256) for k, v in sorted(job.tags.items())},
        "source": neutralise(job.source, 64),
        "url": job.url,
        "note": neutralise(job.note, REASON_LIMIT),
    }


def near_limit_event(
    *,
    start: datetime | None,
    max_runtime_seconds: int | None,
    share_percent: int,
    now: datetime,
    rule_created_at: datetime,
) -> str | None:
    """``runtime>=90%`` once a running job has used that share of its MaxRuntime, else None.

    MaxRuntime counts from the start of training. A job that crossed the
    share before the rule existed is history, like any other event.
    """
    if start is None or not max_runtime_seconds or share_percent <= 0:
        return None
    crossed = start + timedelta(seconds=max_runtime_seconds * share_percent / 100)
    if now < crossed or crossed < rule_created_at:
        return None
    return f"runtime>={share_percent}%"


def backoff_seconds(attempts: int, *, base: int = 30, cap: int = 3600) -> int:
    """Wait before attempt ``attempts + 1``: doubling from ``base``, at most ``cap``."""
    return min(cap, base * 2 ** max(attempts - 1, 0))


# --- Stalls ---------------------------------------------------------------------------

# The secondary statuses a running job can stall in (waiting, launching,
# downloading, training, uploading): statuses.SECONDARY_STATUSES less the
# ones that end a job (Stopping, Stopped, Completed, Failed, the two limits)
# and a restart's (Interrupted, Restarting: their own rule). Derived, so a
# phase AWS adds to that list is timed unless excluded here on purpose.
STALL_EXCLUDED = (
    frozenset({"Stopping", "Stopped", "MaxRuntimeExceeded", "MaxWaitTimeExceeded", "Completed", "Failed"})
    | RESTART_STATUSES
)
STALL_PHASES = frozenset(statuses.SECONDARY_STATUSES) - STALL_EXCLUDED
STALL_MIN_SAMPLES = 20  # finished phases of the same instance type before their p95 is trusted
# Too little history: a fixed threshold per phase (never under the rule's
# floor). Training has none: how long a model trains is the team's business,
# and only its own history says when it is too long.
STALL_FALLBACK_SECONDS = {
    "Starting": 30 * 60,
    "Pending": 60 * 60,
    "LaunchingMLInstances": 30 * 60,
    "PreparingTrainingStack": 30 * 60,
    "Downloading": 60 * 60,
    "DownloadingTrainingImage": 30 * 60,
    "Uploading": 60 * 60,
    "Updating": 30 * 60,
}


def percentile_from_histogram(buckets: Mapping[int, int], share: float = 0.95) -> int | None:
    """Nearest-rank percentile of durations counted per bucket (upper edge in seconds -> count).

    The bucket's upper edge is returned, so a threshold is never below the
    durations it counts. None for no samples.
    """
    total = sum(buckets.values())
    if total <= 0:
        return None
    rank = max(1, -(-round(share * total * 1000) // 1000))  # ceil(share * total), float-safe
    seen = 0
    for edge in sorted(buckets):
        seen += buckets[edge]
        if seen >= rank:
            return edge
    return max(buckets)


def bucket_edge(seconds: int) -> int:
    """The histogram bucket a duration falls in (its upper edge): a minute, a quarter, then an hour wide.

    The same arithmetic as the SQL in alerts.limits (kept for tests and reference).
    """
    seconds = max(int(seconds), 0)
    if seconds < 3600:
        width = 60
    elif seconds < 86400:
        width = 900
    else:
        width = 3600
    return (seconds // width + 1) * width


@dataclass(frozen=True)
class StallThreshold:
    seconds: int
    basis: str  # "p95 of 134 phases", "floor", "default for Downloading"


def stall_threshold(
    phase: str, *, p95_seconds: int | None, samples: int, floor_seconds: int, min_samples: int = STALL_MIN_SAMPLES
) -> StallThreshold | None:
    """How long a running job may stay in ``phase``: its p95, never under the floor; None: never stalls.

    With fewer than ``min_samples`` finished phases the p95 is not trusted:
    the phase's fixed default (never under the floor) applies, and a phase
    with no default (Training) does not alert.
    """
    if phase not in STALL_PHASES:
        return None
    if p95_seconds is not None and samples >= min_samples:
        if p95_seconds >= floor_seconds:
            return StallThreshold(p95_seconds, f"p95 of {samples} phases")
        return StallThreshold(floor_seconds, "floor")
    fallback = STALL_FALLBACK_SECONDS.get(phase)
    if fallback is None:
        return None
    if fallback >= floor_seconds:
        return StallThreshold(fallback, f"default for {phase}")
    return StallThreshold(floor_seconds, "floor")


def stall_event(
    *, phase: str, phase_start: datetime | None, threshold_seconds: int, now: datetime, rule_created_at: datetime
) -> str | None:
    """``stall:<phase>@<phase start>`` once the job has been in the phase past the threshold, else None.

    Keyed by the phase's start: the same stall never alerts twice, a later
    stall (another phase, or the same phase after a restart) alerts again.
    A threshold crossed before the rule existed is history.
    """
    if phase_start is None or threshold_seconds <= 0:
        return None
    crossed = phase_start + timedelta(seconds=threshold_seconds)
    if now < crossed or crossed < rule_created_at:
        return None
    return f"stall:{phase[:40]}@{phase_start.isoformat()}"


def metrics_stall_event(
    *, newest_point: datetime | None, looked_at: datetime | None, minutes: int, rule_created_at: datetime
) -> str | None:
    """``metrics@<newest point>`` once a fetch ``minutes`` past a job's newest metric point found none newer.

    ``looked_at`` is the job's last completed CloudWatch fetch, not the
    clock: a fetch that is late (the source health rule's business) is no
    sign the job went quiet. Keyed by the newest point: the same silence
    never alerts twice, a new point then a new silence alerts again. A
    silence reaching ``minutes`` before the rule existed is history.
    """
    if newest_point is None or looked_at is None or minutes <= 0:
        return None
    crossed = newest_point + timedelta(minutes=minutes)
    if looked_at < crossed or crossed < rule_created_at:
        return None
    return f"metrics@{newest_point.isoformat()}"


# --- Team budgets ---------------------------------------------------------------------


def over_budget(spend_usd: Decimal, budget_usd: Decimal | None) -> bool:
    """True when a positive budget is exceeded (reaching it exactly is not over)."""
    return budget_usd is not None and budget_usd > 0 and spend_usd > budget_usd


def budget_event(team: str, day: date) -> str:
    """``budget:<team>@<local day>``: once per team and day (a long value keeps a hash, to fit 100 characters)."""
    label = team if len(team) <= 60 else team[:50] + "~" + hashlib.sha1(team.encode()).hexdigest()[:9]
    return f"budget:{label}@{day.isoformat()}"


@dataclass(frozen=True)
class BudgetJob:
    name: str
    cost_usd: Decimal
    url: str


@dataclass(frozen=True)
class AlertedBudget:
    """One tag value over its budget, as decided (alerts.limits stores it in the alert's details)."""

    tag_key: str
    team: str
    spend_usd: Decimal
    budget_usd: Decimal
    day: str  # ISO date, local time
    top_jobs: Sequence[BudgetJob]


def render_budgets(rule_name: str, budgets: Sequence[AlertedBudget], *, key: str) -> Message:
    """One message for the teams over budget in a group: each one's spend, budget and costliest jobs."""
    if len(budgets) == 1:
        b = budgets[0]
        title = (
            f"{neutralise(b.tag_key, 128)}={neutralise(b.team, 256)} spent ${b.spend_usd:,.2f} today, "
            f"over its ${b.budget_usd:,.2f} budget"
        )
    else:
        title = f"{len(budgets)} teams are over their daily budget"
    lines = [f"Rule: {neutralise(rule_name, 100)}", ""]
    fields_budgets = []
    for b in budgets:
        lines.append(f"• {neutralise(b.tag_key, 128)}={neutralise(b.team, 256)} on {b.day} (local time):")
        lines.append(f"  spent ${b.spend_usd:,.2f} so far, budget ${b.budget_usd:,.2f} a day")
        if b.top_jobs:
            lines.append("  top jobs by cost today:")
            lines.extend(f"  - {neutralise(j.name, 63)}: ${j.cost_usd:,.2f}  {j.url}" for j in b.top_jobs)
        lines.append("")
        fields_budgets.append(
            {
                "tag_key": neutralise(b.tag_key, 128),
                "team": neutralise(b.team, 256),
                "day": b.day,
                "spend_usd": str(b.spend_usd),
                "budget_usd": str(b.budget_usd),
                "top_jobs": [
                    {"name": neutralise(j.name, 63), "cost_usd": str(j.cost_usd), "url": j.url} for j in b.top_jobs
                ],
            }
        )
    lines.append(f"Alert id: {key}")
    fields = {
        "idempotency_key": key,
        "rule": neutralise(rule_name, 100),
        "kind": TEAM_BUDGET,
        "count": len(budgets),
        "budgets": fields_budgets,
        "jobs": [],
    }
    return Message(title, "\n".join(lines).strip(), fields)
