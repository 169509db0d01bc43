"""What /healthz checks: the database, the broker, and every enabled source's freshness.

Plain data for the view; the freshness rule itself is ``Source.health``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connection
from redis.exceptions import RedisError

from jobs import broker
from jobs.models import Source

log = logging.getLogger(__name__)


@dataclass
class Report:
    database: bool = False
    broker: bool = False
    sources: list[dict[str, Any]] = field(default_factory=list)
    # One line per problem; no exception or AWS text (the endpoint needs no login).
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.healthy else "unhealthy",
            "reason": "; ".join(self.problems),
            "database": "ok" if self.database else "error",
            "broker": "ok" if self.broker else "error",
            "sources": self.sources,
        }


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        log.exception("health check: the database did not answer")
        return False
    return True


def _broker_answers() -> bool:
    try:
        return bool(broker.connection().ping())
    except RedisError:
        log.exception("health check: the broker did not answer")
        return False


def check(now: datetime) -> Report:
    report = Report(database=_database_answers(), broker=_broker_answers())
    if not report.broker:
        report.problems.append("the broker (Redis) did not answer")
    if not report.database:
        report.problems.append("the database did not answer")
        return report
    try:
        sources = list(Source.objects.filter(enabled=True).order_by("name"))
    except DatabaseError:
        log.exception("health check: reading the sources failed")
        report.problems.append("the database did not answer")
        return report
    if not sources:
        report.problems.append("no enabled source")
    for source in sources:
        health = source.health(now)
        report.sources.append(
            {
                "name": source.name,
                "state": health.state.label,
                "age_seconds": health.age_seconds,
                "late_after_seconds": health.late_after_seconds,
                "reason": health.reason,
            }
        )
        if not health.synced_recently:
            report.problems.append(f"source {source.name}: {health.reason}")
    return report
