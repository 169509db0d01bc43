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
``jobs.domain.parse.parse_training_job``, then ``jobs.ingest.new_job_rows``
(the rows ``store_descriptions`` inserts for a new job, its ``JobChange``
included); only the writes differ (COPY or one ``executemany`` per table
and chunk instead of the sync's locked bulk inserts).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import json
import os
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from bench import _setup

DAY = 86400.0
ACCOUNT = "123456789012"
REGION = "us-east-1"
CHUNK = 2000  # jobs per transaction


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


class RowMaker:
    """A job's rows as the sync's first describe writes them, as tuples for a bulk write.

    The rows are the ones ``jobs.ingest.new_job_rows`` builds, the mapping
    ``store_descriptions`` inserts a new job with; only the last step
    differs: each column's value goes to the driver as is when it is a plain
    str/int/float/bool/None, as JSON text or an adapted datetime for those
    columns, and through the field's ``get_db_prep_save`` otherwise, with no
    bulk insert's per-value field chain.
    """

    def __init__(self, source_id: int, now: datetime) -> None:
        from django.db import connection
        from django.db.models import DateTimeField, JSONField

        self.source_id = source_id
        self.now = now
        self.convert: dict[type, list[tuple[str, Any]]] = {}
        for model, fields in _tables():
            convert = []
            for f in fields:
                if isinstance(f, JSONField):
                    conv = functools.partial(json.dumps, cls=f.encoder)
                elif isinstance(f, DateTimeField):
                    conv = connection.ops.adapt_datetimefield_value
                else:
                    conv = functools.partial(_plain, f, connection)
                convert.append((f.attname, conv))
            self.convert[model] = convert

    def rows(self, job_id: int, raw: dict[str, Any], tags: dict[str, str]) -> list[tuple[type, tuple[Any, ...]]]:
        """(model, row) for the job ``raw`` describes, the job first, with id ``job_id``."""
        from jobs.domain.parse import parse_training_job
        from jobs.ingest import Description, new_job_rows

        item = Description(parse_training_job(raw), raw, tags)
        out = []
        for obj in new_job_rows(self.source_id, item, now=self.now, job_id=job_id):
            model = type(obj)
            out.append((model, tuple([conv(getattr(obj, name)) for name, conv in self.convert[model]])))
        return out


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _plain(field: Any, connection: Any, value: Any) -> Any:
    """A str/int/float/bool/None is what the driver takes for these columns; anything else through the field."""
    return value if type(value) in _PLAIN else field.get_db_prep_save(value, connection)


def _tables() -> list[tuple[Any, list[Any]]]:
    """(model, fields written) per table a new job has rows in, in write order.

    Child rows leave their id to the database.
    """
    from jobs.models import FinalMetric, JobChange, JobTag, StatusTransition, TrainingJob

    return [(TrainingJob, list(TrainingJob._meta.concrete_fields))] + [
        (model, [f for f in model._meta.concrete_fields if not f.primary_key])
        for model in (StatusTransition, FinalMetric, JobTag, JobChange)
    ]


# What the progress lines and the summary call each table's rows, in ``_tables()``'s order.
COUNTED = ("jobs", "transitions", "metrics", "tags", "changes")


def _counts() -> dict[str, int]:
    return dict.fromkeys(COUNTED, 0)


def write_rows(tables: list[tuple[Any, list[Any]]], rows: dict[type, list[tuple[Any, ...]]]) -> None:
    """One bulk write per table: COPY on PostgreSQL, one executemany elsewhere."""
    from django.db import connection

    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model, fields in tables:
            table_rows = rows.get(model)
            if not table_rows:
                continue
            table = qn(model._meta.db_table)
            names = ", ".join(qn(f.column) for f in fields)
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in table_rows:
                        copy.write_row(row)
            else:
                cursor.executemany(
                    f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(fields))})", table_rows
                )


def store_chunk(
    maker: RowMaker, first_id: int, items: Iterable[tuple[dict[str, Any], dict[str, str]]]
) -> dict[str, int]:
    """Map and write one chunk of (response, tags) in one transaction; job ids from ``first_id`` on."""
    from django.db import transaction

    tables = _tables()
    rows: dict[type, list[tuple[Any, ...]]] = {model: [] for model, _ in tables}
    for k, (raw, job_tags) in enumerate(items):
        for model, row in maker.rows(first_id + k, raw, job_tags):
            rows[model].append(row)
    with transaction.atomic():
        write_rows(tables, rows)
    return {key: len(rows[model]) for key, (model, _) in zip(COUNTED, tables, strict=True)}


def bulk_store(
    source: Any,
    items: Iterable[tuple[dict[str, Any], dict[str, str]]],
    *,
    now: datetime,
    batch: int = CHUNK,
    progress: Any = None,
) -> dict[str, int]:
    """Store (response, tags) pairs as a first ``store_description`` would, in bulk, in this process.

    Same rows as the real path (see ``RowMaker``), written a batch per
    transaction without the sync's per-job locking: the database is new and
    nothing else writes to it.
    """
    from django.db.models import Max

    from jobs.models import TrainingJob

    counts = _counts()
    next_id = (TrainingJob.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    maker = RowMaker(source.pk, now)
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, batch)):
        for key, n in store_chunk(maker, next_id, chunk).items():
            counts[key] += n
        next_id += len(chunk)
        if progress:
            progress(counts)
    reset_sequences()
    return counts


def reset_sequences() -> None:
    """Explicit ids leave PostgreSQL's sequences behind; the next ORM insert would collide."""
    from django.core.management.color import no_style
    from django.db import connection

    statements = connection.ops.sequence_reset_sql(no_style(), [model for model, _ in _tables()])
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


# --- parallel load (one process per core maps and writes; the database does the rest) -----------

_worker: dict[str, Any] = {}


def _init_worker(jobs: int, seed: int, now: datetime, days: float, running: int, source_id: int) -> None:
    _worker["generator"] = Generator(jobs, seed=seed, now=now, days=days, running=running)
    _worker["maker"] = RowMaker(source_id, now)


def _load_span(span: tuple[int, int, int]) -> tuple[dict[str, int], int, float]:
    """Jobs ``start`` to ``stop`` (ids from ``first_id``): counts, this worker's pid and RSS."""
    start, stop, first_id = span
    generator = _worker["generator"]
    counts = store_chunk(_worker["maker"], first_id, (generator.response(i) for i in range(start, stop)))
    return counts, os.getpid(), _setup.rss_mb()


def load(
    generator_args: dict[str, Any],
    source_id: int,
    *,
    workers: int,
    chunk: int = CHUNK,
    progress: Any = None,
) -> dict[str, int]:
    """Generate and store ``generator_args["jobs"]`` jobs in ``workers`` processes, a chunk per transaction.

    Every job is a pure function of (seed, index), so which process makes it
    changes nothing; chunks are handed out in index order, so the tables are
    written roughly in creation order, as a sync would over time.
    """
    import multiprocessing

    from django.db import connections
    from django.db.models import Max

    from jobs.models import TrainingJob

    jobs = generator_args["jobs"]
    first_id = (TrainingJob.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    spans = [(s, min(s + chunk, jobs), first_id + s) for s in range(0, jobs, chunk)]
    counts = _counts()
    worker_rss: dict[int, float] = {}
    # A forked child must open its own connection, never share the parent's socket.
    connections.close_all()
    context = multiprocessing.get_context("fork")
    init_args = (
        jobs,
        generator_args["seed"],
        generator_args["now"],
        generator_args["days"],
        generator_args["running"],
        source_id,
    )
    with context.Pool(workers, initializer=_init_worker, initargs=init_args) as pool:
        for done, pid, rss in pool.imap_unordered(_load_span, spans):
            for key, n in done.items():
                counts[key] += n
            worker_rss[pid] = rss
            if progress:
                progress(counts, worker_rss)
    reset_sequences()
    return counts


# --- indexes: built once after the load instead of maintained row by row -------------------------


def _index_definitions() -> list[tuple[str, str, str]]:
    """(kind, name, SQL that recreates it) for the secondary indexes and constraints of the job tables."""
    from django.db import connection

    tables = [model._meta.db_table for model, _ in _tables()]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.contype, c.conname, format('ALTER TABLE %%I ADD CONSTRAINT %%I %%s', "
                "c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)) "
                "FROM pg_constraint c WHERE c.conrelid::regclass::text = ANY(%s) AND c.contype IN ('u', 'f') "
                "ORDER BY c.contype DESC, c.conname",
                [tables],
            )
            found = [("constraint-" + kind, name, sql) for kind, name, sql in cursor.fetchall()]
            cursor.execute(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x')) "
                "ORDER BY 1",
                [tables],
            )
            found += [("index", name, sql) for name, sql in cursor.fetchall()]
        else:
            # Indexes SQLite made for a column's UNIQUE have no SQL and stay.
            marks = ", ".join(["%s"] * len(tables))
            cursor.execute(
                f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                f"AND tbl_name IN ({marks}) ORDER BY name",
                tables,
            )
            found = [("index", name, sql) for name, sql in cursor.fetchall()]
    # Unique constraints before indexes, foreign keys last (they validate against the loaded rows).
    order = {"constraint-u": 0, "index": 1, "constraint-f": 2}
    return sorted(found, key=lambda d: (order[d[0]], d[1]))


@contextlib.contextmanager
def indexes_built_after() -> Iterator[None]:
    """Drop the job tables' secondary indexes and constraints, then recreate them from their own definitions.

    The definitions are read from the database the migrations built
    (``pg_get_indexdef``, ``pg_get_constraintdef``, SQLite's stored SQL) and
    compared afterwards, so the result is what the migrations made; the
    primary keys stay. Building an index over sorted rows once is much
    cheaper than keeping ~25 of them up to date through a million inserts.
    """
    from django.db import connection

    definitions = _index_definitions()
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for kind, name, sql in reversed(definitions):
            if kind == "index":
                cursor.execute(f"DROP INDEX {qn(name)}")
            else:
                table = sql.split(" ")[2]
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {qn(name)}")
    yield
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET maintenance_work_mem = '1GB'")  # this session only: sorts in memory
        for _kind, _name, sql in definitions:
            cursor.execute(sql)
    rebuilt = _index_definitions()
    if rebuilt != definitions:
        raise RuntimeError(f"indexes differ after the load: {sorted(set(rebuilt) ^ set(definitions))}")


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
    parser.add_argument("--batch", type=int, default=CHUNK, help="jobs per transaction")
    parser.add_argument(
        "--workers", type=int, default=0, help="processes that map and write (default: 2 on PostgreSQL, 1 on SQLite)"
    )
    parser.add_argument("--db", default="bench.sqlite3", help="SQLite file under bench/results/ (no DATABASE_URL)")
    parser.add_argument("--output", help="JSON summary path (default: bench/results/generate-<db>-<time>.json)")
    args = parser.parse_args(argv)

    url = _setup.setup(args.db, fresh=True)
    from django.db import connection
    from django.utils import timezone

    from bench.report import Summary
    from jobs.models import Source

    # SQLite has one writer at a time: more processes would only wait for its lock.
    workers = args.workers or (2 if connection.vendor == "postgresql" else 1)
    if connection.vendor != "postgresql":
        workers = 1
    print(f"generating {args.jobs:,} jobs into {connection.vendor} ({url.split('@')[-1]}), {workers} worker(s)")
    now = timezone.now()
    source = Source.objects.create(name="prod-us-east-1", region="us-east-1", account_id=ACCOUNT, last_success_at=now)
    Source.objects.create(name="research-eu-west-1", region="eu-west-1", account_id=ACCOUNT, last_success_at=now)
    every = 100_000 if args.jobs >= 500_000 else 10_000
    started = time.perf_counter()
    samples: list[dict[str, float]] = []
    shown = [0]

    def progress(counts: dict[str, int], worker_rss: dict[int, float] | None = None) -> None:
        if counts["jobs"] // every == shown[0] // every and counts["jobs"] != args.jobs:
            return
        shown[0] = counts["jobs"]
        elapsed = time.perf_counter() - started
        main_rss = _setup.rss_mb()
        rss = max(worker_rss.values()) if worker_rss else main_rss
        load1 = os.getloadavg()[0]
        samples.append(
            {"jobs": counts["jobs"], "seconds": elapsed, "rss_mb": rss, "main_rss_mb": main_rss, "load": load1}
        )
        print(
            f"  {counts['jobs']:>9,} jobs  {counts['transitions']:>10,} transitions  "
            f"{counts['jobs'] / elapsed:>6,.0f} jobs/s  RSS {main_rss:5.0f} MB"
            + (f" (largest worker {rss:.0f} MB)" if worker_rss else "")
            + f"  load {load1:.1f}",
            flush=True,
        )

    with indexes_built_after():
        if workers > 1:
            gen_args = {"jobs": args.jobs, "seed": args.seed, "now": now, "days": args.days, "running": args.running}
            counts = load(gen_args, source.pk, workers=workers, chunk=args.batch, progress=progress)
        else:
            generator = Generator(args.jobs, seed=args.seed, now=now, days=args.days, running=args.running)
            counts = bulk_store(source, generator.responses(), now=now, batch=args.batch, progress=progress)
        loaded = time.perf_counter() - started
        print(f"  rows written in {loaded:.0f} s ({counts['jobs'] / loaded:,.0f} jobs/s); building indexes", flush=True)
    indexed = time.perf_counter() - started
    analyze()
    elapsed = time.perf_counter() - started
    print(
        f"done in {elapsed:.0f} s ({args.jobs / elapsed:,.0f} jobs/s; indexes {indexed - loaded:.0f} s, "
        f"analyze {elapsed - indexed:.0f} s): {counts['jobs']:,} jobs, {counts['transitions']:,} transitions, "
        f"{counts['metrics']:,} metrics, {counts['tags']:,} tags, {counts['changes']:,} job changes",
        flush=True,
    )
    _describe_population()
    summary = Summary(
        "generate",
        meta={"jobs": args.jobs, "workers": workers, "batch": args.batch, "counts": counts, "samples": samples},
    )
    summary.add("generate.jobs_per_s", args.jobs / elapsed, "jobs/s", better="higher", note="rows, indexes, analyze")
    summary.add("generate.seconds", elapsed, "s", target=1800.0 if args.jobs >= 1_000_000 else None)
    summary.add("generate.load_seconds", loaded, "s")
    summary.add("generate.index_seconds", indexed - loaded, "s")
    summary.add("generate.analyze_seconds", elapsed - indexed, "s")
    summary.add("generate.max_rss_mb", max((s["rss_mb"] for s in samples), default=_setup.rss_mb()), "MB")
    summary.publish(args.output)
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
