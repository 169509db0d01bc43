"""Fill a benchmark database with jobs at scale, as the ingest path would store them.

    python -m bench.generate                      # 100,000 jobs into bench/results/bench.sqlite3
    DATABASE_URL=postgres://postgres@127.0.0.1:5499/bench python -m bench.generate
    python -m bench.generate --jobs 20000 --running 200

The jobs are the simulated account's (``simulator/``): its population,
plans and rendering give each job's DescribeTrainingJob response and tags
at ``now``, so vocabulary and proportions live in one place (64% completed,
20% failed with varied reasons, ~10% stopped, tuning jobs, warm pools, spot,
one job in 1,000 a long spot job with exactly 50 transitions: the detail
benchmark's case). The newest ``--running`` jobs are shown as a sync saw
them while they ran. Each response goes through the product's own mapping:
``jobs.domain.parse.parse_training_job``, ``jobs.ingest._detail_fields``,
``merge_transitions`` and ``_jsonable``; only the writes differ (bulk
inserts in batches instead of one transaction per job).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from bench import _setup

DAY = 86400.0
ACCOUNT = "123456789012"
REGION = "us-east-1"


class Generator:
    """The simulated account's ``jobs`` jobs at ``now``, spread over ``days``; the newest ``running`` still run."""

    def __init__(self, jobs: int, *, seed: int = 1, now: datetime, days: float = 180, running: int = 500) -> None:
        from simulator.population import Population
        from simulator.render import Renderer

        self.jobs = jobs
        self.running = running
        self.now = now.timestamp()
        self.population = Population(seed, jobs, self.now, history=days * DAY)
        self.renderer = Renderer(self.population, REGION, ACCOUNT)

    def responses(self) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
        for i in range(self.jobs):
            yield self.response(i)

    def response(self, i: int) -> tuple[dict[str, Any], dict[str, str]]:
        """(DescribeTrainingJob response as boto3 returns it, tags) for job ``i`` (older first)."""
        from simulator.rand import unit3
        from simulator.render import to_datetimes
        from simulator.timeline import PRIMARY, effective_events, state_at

        plan = self.population.plan(i)
        events = effective_events(plan, None)
        t = self.now
        if i >= self.jobs - self.running and events[-1].start <= t:
            # Already over at ``now``: show it as a sync saw it part-way through its life, which is
            # as true a snapshot (every time in it is before now) and keeps the newest jobs running.
            running = [e.start for e in events if e.status not in PRIMARY]
            t = plan.creation + unit3(self.population.seed, i, 99) * (running[-1] - plan.creation)
        state = state_at(plan, events, t)
        raw = to_datetimes(self.renderer.describe(plan, events, state))
        return raw, {tag["Key"]: tag["Value"] for tag in self.renderer.tags(i)}


def bulk_store(
    source: Any,
    items: Iterable[tuple[dict[str, Any], dict[str, str]]],
    *,
    now: datetime,
    batch: int = 2000,
    progress: Any = None,
) -> dict[str, int]:
    """Store (response, tags) pairs as ``store_description`` would, in bulk.

    Same rows as the real path: parsed by ``parse_training_job``, mapped by
    ``_detail_fields``, transitions through ``merge_transitions``, raw through
    ``_jsonable``, tags as the JSON column and as JobTag rows. Values go
    through each field's ``get_db_prep_save`` (what bulk_create does), then
    one ``executemany`` per table and batch: Django's bulk_create spent 80%
    of its time assembling SQL text for a million small rows.
    """
    from django.db import connection, transaction
    from django.db.models import Max

    from jobs.domain.parse import parse_training_job
    from jobs.domain.timeline import merge_transitions
    from jobs.ingest import _detail_fields, _jsonable
    from jobs.models import FinalMetric, JobTag, StatusTransition, TrainingJob

    counts = {"jobs": 0, "transitions": 0, "metrics": 0, "tags": 0}
    next_id = (TrainingJob.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    adapt = connection.ops.adapt_datetimefield_value

    def insert(model: Any, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        qn = connection.ops.quote_name
        sql = (
            f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(c) for c in columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))})"
        )
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)

    job_fields = [f for f in TrainingJob._meta.concrete_fields]
    job_columns = [f.column for f in job_fields]

    def flush(pending: list[tuple[TrainingJob, Any, dict[str, str]]]) -> None:
        jobs, transitions, metrics, tag_rows = [], [], [], []
        for job, parsed, tags in pending:
            jobs.append(tuple(f.get_db_prep_save(getattr(job, f.attname), connection) for f in job_fields))
            for k, tr in enumerate(merge_transitions([], parsed.transitions)):
                transitions.append((job.pk, k, tr.status, adapt(tr.start_time), adapt(tr.end_time), tr.message))
            incoming = {m.name: (m.value, m.timestamp) for m in parsed.metrics}
            metrics.extend((job.pk, name, value, adapt(ts)) for name, (value, ts) in incoming.items())
            tag_rows.extend((job.pk, k[:128], v[:256]) for k, v in tags.items())
        with transaction.atomic():
            insert(TrainingJob, job_columns, jobs)
            insert(StatusTransition, ["job_id", "position", "status", "start_time", "end_time", "message"], transitions)
            insert(FinalMetric, ["job_id", "name", "value", "timestamp"], metrics)
            insert(JobTag, ["job_id", "key", "value"], tag_rows)
        counts["jobs"] += len(jobs)
        counts["transitions"] += len(transitions)
        counts["metrics"] += len(metrics)
        counts["tags"] += len(tag_rows)

    pending: list[tuple[TrainingJob, Any, dict[str, str]]] = []
    for raw, tags in items:
        parsed = parse_training_job(raw)
        job = TrainingJob(
            id=next_id,
            source=source,
            arn=parsed.arn,
            last_modified_time=parsed.last_modified_time,
            tags=tags,
            tags_fetched_at=now,
            raw=_jsonable(raw),
            described_at=now,
            described_last_modified_time=parsed.last_modified_time,
            **_detail_fields(parsed, now),
        )
        next_id += 1
        pending.append((job, parsed, tags))
        if len(pending) >= batch:
            flush(pending)
            pending = []
            if progress:
                progress(counts)
    if pending:
        flush(pending)
    _reset_sequences([TrainingJob, StatusTransition, FinalMetric, JobTag])
    return counts


def _reset_sequences(models: list[Any]) -> None:
    """Explicit ids leave PostgreSQL's sequences behind; the next ORM insert would collide."""
    from django.core.management.color import no_style
    from django.db import connection

    statements = connection.ops.sequence_reset_sql(no_style(), models)
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def analyze() -> None:
    """Fresh planner statistics (and visibility map), as PostgreSQL's autovacuum would gather after a bulk load."""
    from django.db import connection

    with connection.cursor() as cursor:
        # VACUUM too on PostgreSQL: it sets the visibility map, without which
        # index-only scans fetch heap pages (autovacuum would do it in time).
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--running", type=int, default=500, help="the newest N jobs are still running")
    parser.add_argument("--days", type=float, default=180, help="history the jobs are spread over")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--db", default="bench.sqlite3", help="SQLite file under bench/results/ (no DATABASE_URL)")
    args = parser.parse_args(argv)

    url = _setup.setup(args.db, fresh=True)
    from django.db import connection
    from django.utils import timezone

    from jobs.models import Source

    print(f"generating {args.jobs:,} jobs into {connection.vendor} ({url.split('@')[-1]})")
    now = timezone.now()
    source = Source.objects.create(name="prod-us-east-1", region="us-east-1", account_id=ACCOUNT, last_success_at=now)
    Source.objects.create(name="research-eu-west-1", region="eu-west-1", account_id=ACCOUNT, last_success_at=now)
    generator = Generator(args.jobs, seed=args.seed, now=now, days=args.days, running=args.running)
    started = time.perf_counter()

    def progress(counts: dict[str, int]) -> None:
        if counts["jobs"] % 10_000 == 0:
            rate = counts["jobs"] / (time.perf_counter() - started)
            print(f"  {counts['jobs']:>7,} jobs  {counts['transitions']:>9,} transitions  ({rate:,.0f} jobs/s)")

    counts = bulk_store(source, generator.responses(), now=now, batch=args.batch, progress=progress)
    analyze()
    elapsed = time.perf_counter() - started
    print(
        f"done in {elapsed:.0f} s: {counts['jobs']:,} jobs, {counts['transitions']:,} transitions, "
        f"{counts['metrics']:,} metrics, {counts['tags']:,} tags"
    )
    _describe_population()
    return 0


def _describe_population() -> None:
    from django.db.models import Count

    from jobs.models import TrainingJob

    by_status = dict(TrainingJob.objects.values_list("status").annotate(n=Count("id")).order_by())
    tuned = TrainingJob.objects.exclude(tuning_job_arn="").count()
    signatures = TrainingJob.objects.exclude(failure_signature="").values("failure_signature").distinct().count()
    types = TrainingJob.objects.values("instance_type").distinct().count()
    print(f"  statuses {by_status}; {tuned:,} tuning-job trials; {signatures} failure signatures;", end=" ")
    print(f"{types} instance types")


if __name__ == "__main__":
    raise SystemExit(main())
