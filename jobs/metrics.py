"""Prometheus metrics, read at scrape time from the database and Redis.

Nothing is kept in process memory: gunicorn's web workers, the Celery workers
and beat are separate processes, and a scrape reaches one web worker. So the
figures are read when scraped (jobs, sources, cycles from the database; queue
lengths from the broker), and the AWS call counters live where every process
can add to them: a Redis hash, ``HINCRBY`` per call (atomic, one round trip,
next to the broker the workers need anyway). A database table would be a
write per AWS call, contending with ingest for SQLite's single writer lock.
The counters start again from zero when Redis restarts; Prometheus' rate()
and increase() take counter resets in their stride.

A call botocore retried inside (throttling, 5xx) counts once, as the call we
made; it counts as an error when it failed after its retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from redis.exceptions import RedisError

from jobs import broker
from jobs.domain.health import SyncState
from jobs.domain.polling import PUSH
from jobs.domain.statuses import TERMINAL

log = logging.getLogger(__name__)

AWS_CALLS_KEY = "trainwatch:metrics:aws_calls"  # field: operation
AWS_ERRORS_KEY = "trainwatch:metrics:aws_errors"  # field: operation + "|" + error code
# kombu's Redis transport keeps a queue's messages of priority p > 0 in "<queue>\x06\x16<p>".
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (0, 3, 6, 9)

# After Redis fails to answer, counting pauses this long: an AWS call must
# not wait for a connect timeout each time while Redis is down.
_PAUSE_SECONDS = 30.0
_paused_until = 0.0


def count_aws_call(operation: str, *, error_code: str | None = None) -> None:
    """Add one call of ``operation`` (and one error with ``error_code``, if it failed)."""
    global _paused_until
    if time.monotonic() < _paused_until:
        return
    try:
        pipe = broker.connection().pipeline(transaction=False)
        pipe.hincrby(AWS_CALLS_KEY, operation, 1)
        if error_code is not None:
            pipe.hincrby(AWS_ERRORS_KEY, f"{operation}|{error_code or 'unknown'}", 1)
        pipe.execute()
    except (RedisError, ValueError) as exc:  # ValueError: a broker URL redis-py cannot read
        _paused_until = time.monotonic() + _PAUSE_SECONDS
        log.warning("AWS call counters paused for %.0f s: Redis did not answer (%s)", _PAUSE_SECONDS, exc)


def describe_queue() -> str:
    """The Celery queue describe tasks wait in: their route, or the default queue."""
    route = settings.CELERY_TASK_ROUTES.get("jobs.tasks.describe_jobs", {})
    return route.get("queue", settings.CELERY_TASK_DEFAULT_QUEUE)


def _queue_names() -> list[str]:
    return [queue.name for queue in settings.CELERY_TASK_QUEUES]


def _decoded(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class TrainwatchCollector(Collector):
    """Every figure, read fresh at each scrape (see the module docstring)."""

    def collect(self) -> Iterator[Metric]:
        yield from self._database()
        yield from self._broker()

    def _database(self) -> Iterator[Metric]:
        from jobs.models import GONE, Source, SyncCycle, TrainingJob

        up = GaugeMetricFamily("trainwatch_database_up", "1 when the database answered this scrape.")
        try:
            sources = {source.pk: source for source in Source.objects.order_by("name")}
            by_status = list(
                TrainingJob.objects.order_by()
                .values_list("source_id", "status")
                .annotate(n=Count("id"), gone=Count("id", filter=GONE))
            )
            last_cycles = {
                source_id: SyncCycle.objects.filter(source_id=source_id, finished_at__isnull=False)
                .order_by("-started_at")
                .only("started_at", "finished_at", "listed", "described", "errors")
                .first()
                for source_id in sources
            }
        except DatabaseError:
            log.exception("metrics: the database did not answer")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        jobs = GaugeMetricFamily(
            "trainwatch_jobs", "Training jobs stored, by source and status.", labels=["source", "status"]
        )
        running = GaugeMetricFamily(
            "trainwatch_running_jobs",
            "Jobs not in a terminal status and not gone at the source, by source (as the status page counts).",
            labels=["source"],
        )
        running_counts = dict.fromkeys(sources, 0)
        for source_id, status, n, gone in by_status:
            jobs.add_metric([sources[source_id].name, status], n)
            if status not in TERMINAL:
                running_counts[source_id] += n - gone
        for source_id, n in running_counts.items():
            running.add_metric([sources[source_id].name], n)
        yield jobs
        yield running

        now = timezone.now()
        age = GaugeMetricFamily(
            "trainwatch_source_sync_age_seconds",
            "Seconds since the source's last successful sync cycle (absent: never).",
            labels=["source"],
        )
        state = GaugeMetricFamily(
            "trainwatch_source_state",
            "1 for the source's current state (ok, stale, failing, never synced, unfinished cycle), 0 for the others.",
            labels=["source", "state"],
        )
        enabled = GaugeMetricFamily("trainwatch_source_enabled", "1 when the source is synced.", labels=["source"])
        duration = GaugeMetricFamily(
            "trainwatch_sync_cycle_duration_seconds",
            "How long the source's last finished sync cycle took (its own listing and queueing).",
            labels=["source"],
        )
        cycle_errors = GaugeMetricFamily(
            "trainwatch_sync_cycle_errors", "Jobs the last finished cycle could not store.", labels=["source"]
        )
        push = GaugeMetricFamily(
            "trainwatch_source_push",
            "1 while the source's events arrive (push), 0 when polling only.",
            labels=["source"],
        )
        event_age = GaugeMetricFamily(
            "trainwatch_source_event_age_seconds",
            "Seconds since the consumer last stored one of the source's events (absent: never).",
            labels=["source"],
        )
        for source_id, source in sources.items():
            health = source.health(now)
            push.add_metric([source.name], 1 if source.sync_mode(now) == PUSH else 0)
            if source.last_event_at is not None:
                event_age.add_metric([source.name], max(0.0, (now - source.last_event_at).total_seconds()))
            if health.age_seconds is not None:
                age.add_metric([source.name], health.age_seconds)
            for one in SyncState:
                state.add_metric([source.name, one.label], 1 if health.state is one else 0)
            enabled.add_metric([source.name], 1 if source.enabled else 0)
            cycle = last_cycles[source_id]
            if cycle is not None:
                duration.add_metric([source.name], (cycle.finished_at - cycle.started_at).total_seconds())
                cycle_errors.add_metric([source.name], cycle.errors)
        yield from (age, state, enabled, duration, cycle_errors, push, event_age)

    def _broker(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("trainwatch_broker_up", "1 when the broker (Redis) answered this scrape.")
        queues = _queue_names()
        try:
            redis = broker.connection()
            pipe = redis.pipeline(transaction=False)
            for queue in queues:
                for priority in _PRIORITY_STEPS:
                    pipe.llen(queue if priority == 0 else f"{queue}{_PRIORITY_SEPARATOR}{priority}")
            pipe.hgetall(AWS_CALLS_KEY)
            pipe.hgetall(AWS_ERRORS_KEY)
            *lengths, calls, errors = pipe.execute()
        except RedisError:
            log.exception("metrics: the broker did not answer")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        depth = GaugeMetricFamily(
            "trainwatch_queue_depth",
            f"Celery tasks waiting in each queue; describes wait in {describe_queue()!r}.",
            labels=["queue"],
        )
        steps = len(_PRIORITY_STEPS)
        for i, queue in enumerate(queues):
            depth.add_metric([queue], sum(lengths[i * steps : (i + 1) * steps]))
        yield depth

        aws_calls = CounterMetricFamily(
            "trainwatch_aws_calls",
            "SageMaker API calls made, by operation (botocore retries included in one).",
            labels=["operation"],
        )
        for operation, n in sorted(calls.items()):
            aws_calls.add_metric([_decoded(operation)], int(n))
        yield aws_calls
        aws_errors = CounterMetricFamily(
            "trainwatch_aws_errors",
            "SageMaker API calls that failed after botocore's retries, by operation and error code.",
            labels=["operation", "code"],
        )
        for field, n in sorted(errors.items()):
            operation, _, code = _decoded(field).partition("|")
            aws_errors.add_metric([operation, code], int(n))
        yield aws_errors


registry = CollectorRegistry(auto_describe=False)
registry.register(TrainwatchCollector())
