"""Sync efficiency: AWS calls and time per steady-state cycle, against the simulated account.

    python -m bench.sync                  # 100,000 known jobs, bench/results/sync.sqlite3
    python -m bench.sync --jobs 20000 --cycles 3
    DATABASE_URL=postgres://postgres@127.0.0.1:5499/bench_sync python -m bench.sync

The simulated account (``simulator/``, over HTTP on loopback, clock frozen)
holds ``--jobs`` jobs; the database already knows every one of them (bulk
loaded from the simulator's own DescribeTrainingJob and ListTags answers,
through the same mapping as ingest, see bench/generate.py), as after weeks of
syncing. A first cycle settles the cursor; then each measured cycle advances
the simulated clock by ``--interval`` seconds (the default sync interval) and
runs ``jobs.sync.run_cycle`` inline: ListTrainingJobs since the cursor, then
DescribeTrainingJob (+ ListTags when a job changed) for every job that is
new, changed or still running. Calls are counted by the simulator.

The baseline it is compared with, "describe everything", is what a naive
poller does each cycle: list every job (100 per page) and describe each one.
Its time is extrapolated from describing ``--sample`` jobs the same way.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from datetime import UTC, datetime

from bench import _setup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--interval", type=float, default=60, help="simulated seconds between cycles")
    parser.add_argument("--sample", type=int, default=300, help="describes timed for the describe-everything estimate")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--no-search", action="store_true", help="describe every due job (TRAINWATCH_SEARCH=0), no Search calls"
    )
    parser.add_argument("--db", default="sync.sqlite3")
    parser.add_argument("--output")
    args = parser.parse_args(argv)

    # boto3 needs credentials and a region to sign requests, even for the simulator.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["TRAINWATCH_SEARCH"] = "0" if args.no_search else "1"
    _setup.setup(args.db, fresh=True)
    from django.db import connection
    from django.utils import timezone

    from bench.generate import bulk_store
    from bench.report import Summary
    from jobs import sagemaker, sync
    from jobs.models import Source, SyncCycle, TrainingJob
    from simulator import SimulatedSageMaker
    from simulator.render import to_datetimes

    start = datetime.now(UTC).replace(microsecond=0)
    sim = SimulatedSageMaker(jobs=args.jobs, seed=args.seed, speed=0, start=start).start()
    sagemaker.reset_clients()
    source = Source.objects.create(name="simulated", region="us-east-1", endpoint_url=sim.endpoint_url)
    first_page_cold_ms, first_page_warm_ms = _first_page_ms(sagemaker.client_for(sagemaker.SourceConfig.of(source)))
    print(f"simulated account at {sim.endpoint_url}; loading {args.jobs:,} known jobs into {connection.vendor}")

    loaded = time.perf_counter()
    t = sim.clock.timestamp()
    account = sim.account
    count = account.count(t)

    def known():
        for i in range(count):
            raw = to_datetimes(account.describe(i, t))
            tags = {tag["Key"]: tag["Value"] for tag in account.renderer.tags(i)}
            yield raw, tags

    now = timezone.now()
    counts = bulk_store(source, known(), now=now)
    newest = TrainingJob.objects.order_by("-last_modified_time").values_list("last_modified_time", flat=True).first()
    Source.objects.filter(pk=source.pk).update(list_cursor=newest, account_id=account.account_id)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"  loaded {counts['jobs']:,} jobs, {counts['transitions']:,} transitions "
        f"in {time.perf_counter() - loaded:.0f} s"
    )

    def one_cycle() -> tuple[SyncCycle, dict, float]:
        source.refresh_from_db()
        sim.reset_stats()
        t0 = time.perf_counter()
        cycle = sync.run_cycle(source)
        return cycle, sim.stats, time.perf_counter() - t0

    # Settle: the cursor, the first ListTags of nothing, connections.
    cycle, stats, seconds = one_cycle()
    print(f"  settle cycle: {dict(stats['calls'])} in {seconds:.1f} s")

    rows = []
    for k in range(args.cycles):
        window_start = datetime.fromtimestamp(sim.clock.timestamp(), UTC)
        sim.clock.advance(args.interval)
        running_before = source.jobs.running().count()
        known_before = source.jobs.count()
        due_ms = _time_ms(lambda: list(source.jobs.needing_describe().values_list("name", flat=True)))
        cycle, stats, seconds = one_cycle()
        calls = stats["calls"]
        new = source.jobs.count() - known_before
        changed = source.jobs.filter(last_modified_time__gt=window_start).count()
        row = {
            "known": known_before,
            "running": running_before,
            "changed": changed,
            "new": new,
            "list": calls["ListTrainingJobs"],
            "describe": calls["DescribeTrainingJob"],
            "tags": calls["ListTags"],
            "search": calls["Search"],
            "total": stats["requests"],
            "seconds": seconds,
            "due_query_ms": due_ms,
            "errors": cycle.errors,
        }
        rows.append(row)
        print(
            f"  cycle {k + 1}: known {row['known']:,}, running {row['running']}, changed {changed} ({new} new); "
            f"calls list {row['list']} + search {row['search']} + describe {row['describe']} + tags {row['tags']} "
            f"= {row['total']} "
            f"in {seconds:.2f} s (due query {due_ms:.0f} ms, errors {cycle.errors})"
        )

    # Describe everything: time a sample of describes the way the sync stores them.
    names = list(source.jobs.order_by("?").values_list("name", flat=True)[: args.sample])
    sim.reset_stats()
    t0 = time.perf_counter()
    for name in names:
        sync.describe_and_store(source, name, cycle_id=None)
    per_describe = (time.perf_counter() - t0) / max(1, len(names))
    sim.stop()

    def median(key: str) -> float:
        return statistics.median(r[key] for r in rows)

    known_jobs = rows[-1]["known"]
    everything_calls = known_jobs + math.ceil(known_jobs / 100)
    total = median("total")
    bound = median("running") + median("changed") + median("list")
    meta = {"jobs": args.jobs, "interval_s": args.interval, "search": not args.no_search, "cycles": rows}
    summary = Summary("sync", meta=meta)
    summary.add("sync.known_jobs", known_jobs, "jobs")
    summary.add("sync.running_jobs", median("running"), "jobs", note="median over the measured cycles")
    summary.add("sync.changed_jobs", median("changed"), "jobs", note=f"LastModifiedTime moved in {args.interval:g} s")
    summary.add("sync.calls.list", median("list"), "calls")
    summary.add("sync.calls.describe", median("describe"), "calls")
    summary.add("sync.calls.list_tags", median("tags"), "calls")
    summary.add("sync.calls.search", median("search"), "calls", note="100 records a page, tags included")
    summary.add(
        "sync.calls.total",
        total,
        "calls",
        target=bound,
        note="target: running + changed + list pages of the same cycle",
    )
    summary.add("sync.describe_all.calls", everything_calls, "calls", note="every job described + a full list")
    summary.add("sync.reduction_x", everything_calls / total if total else 0.0, "x", target=100, better="higher")
    summary.add("sync.cycle_s", median("seconds"), "s", note="one inline cycle, wall clock")
    summary.add("sync.due_query_ms", median("due_query_ms"), "ms", note="needing_describe() over all known jobs")
    summary.add(
        "simulator.first_page.cold_ms", first_page_cold_ms, "ms", note="ListTrainingJobs, 100 newest, first call"
    )
    summary.add("simulator.first_page.p50_ms", first_page_warm_ms, "ms", target=100, note="median of the next 20")
    summary.add("sync.describe_ms", per_describe * 1000, "ms", note="one DescribeTrainingJob + store, over HTTP")
    summary.add(
        "sync.describe_all.estimated_s",
        per_describe * known_jobs,
        "s",
        note="describe-everything cycle time, extrapolated from the sample",
    )
    summary.publish(args.output)
    return 0


def _first_page_ms(client) -> tuple[float, float]:
    """The simulator's first ListTrainingJobs page over boto3: the first call, then the median of 20."""

    def first_page():
        return client.list_training_jobs(MaxResults=100, SortBy="CreationTime", SortOrder="Descending")

    cold = _time_ms(first_page)
    return cold, statistics.median(_time_ms(first_page) for _ in range(20))


def _time_ms(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


if __name__ == "__main__":
    raise SystemExit(main())
