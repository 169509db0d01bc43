"""Freshness: time from a simulated status change to its row in the database, push vs polling only.

    python -m bench.freshness --mode push      # the events consumer alone
    python -m bench.freshness --mode poll      # sync cycles every --interval seconds, no events
    python -m bench.freshness --mode push --jobs 100000 --seconds 60

The simulated account (``simulator/``, over HTTP on loopback) runs on the
real clock with its jobs sped up (``--speed``, as the run command does), so
a change happens at a real instant. ``--jobs`` is sized so about 1,000 are
running; the database knows those running jobs at the start (bulk loaded
from the simulator's own describes). Then for ``--seconds``:

- push: ``jobs.events_consumer.consume_once`` in a loop, long-polling the
  simulator's SQS queue (20 s, batches of 10), as ``consume_events`` does;
- poll: ``jobs.sync.run_cycle`` every ``--interval`` seconds (the run
  command's 10 s), as beat does.

Freshness of a stored change is its JobChange's ``created_at`` (when the
store committed it) minus its ``last_modified_time`` (when the simulator
made the change). Both are real time. AWS calls per minute are counted by
the simulator.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime

from bench import _setup


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("push", "poll"), required=True)
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs at the epoch (about 1 %% are running)")
    parser.add_argument("--speed", type=float, default=30)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--interval", type=float, default=10, help="poll: seconds between sync cycles")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--db", default="freshness.sqlite3")
    args = parser.parse_args(argv)

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    _setup.setup(args.db, fresh=True)
    from django.db import connection
    from django.utils import timezone

    from bench.generate import bulk_store
    from jobs import events_consumer, sagemaker, sync
    from jobs.models import JobChange, Source
    from simulator import SimulatedSageMaker
    from simulator.render import to_datetimes

    sim = SimulatedSageMaker(jobs=args.jobs, seed=args.seed, speed=args.speed).start()
    sagemaker.reset_clients()
    t = sim.clock.timestamp()
    account = sim.account
    running = [i for i in range(account.count(t)) if account.state(i, t).status == "InProgress"]
    source = Source.objects.create(
        name="simulated",
        region="us-east-1",
        endpoint_url=sim.endpoint_url,
        account_id=account.account_id,
        events_queue_url=sim.events_queue_url if args.mode == "push" else "",
    )

    def known():
        for i in running:
            yield to_datetimes(account.describe(i, t)), {tag["Key"]: tag["Value"] for tag in account.renderer.tags(i)}

    bulk_store(source, known(), now=timezone.now())
    Source.objects.filter(pk=source.pk).update(list_cursor=datetime.fromtimestamp(t, UTC))
    if args.mode == "push":
        sim.events_queue.publish()  # the queue exists from here; what happened before is in the load
    print(
        f"{connection.vendor}: {len(running):,} running jobs of {account.count(t):,}; "
        f"{args.mode} for {args.seconds:g} s"
    )

    started = timezone.now()
    sim.reset_stats()
    t0 = time.monotonic()
    cycles = 0
    while time.monotonic() - t0 < args.seconds:
        if args.mode == "push":
            events_consumer.consume_once(source, source.events_queue_url, dispatch=lambda s, names: None)
        else:
            source.refresh_from_db()
            begun = time.monotonic()
            sync.run_cycle(source)
            cycles += 1
            time.sleep(max(0.0, args.interval - (time.monotonic() - begun)))
    elapsed = time.monotonic() - t0
    stats = sim.stats
    lags = [
        (created - modified).total_seconds()
        for created, modified in JobChange.objects.filter(source=source, created_at__gte=started).values_list(
            "created_at", "last_modified_time"
        )
        if modified is not None and modified >= started
    ]
    per_min = {op: round(n * 60 / elapsed) for op, n in sorted(stats["calls"].items())}
    print(f"  changes stored: {len(lags):,} (cycles: {cycles})")
    if lags:
        print(
            f"  freshness p50 {_pct(lags, 50):.2f} s, p99 {_pct(lags, 99):.2f} s, max {max(lags):.2f} s, "
            f"mean {statistics.fmean(lags):.2f} s"
        )
    print(f"  AWS calls per minute: {sum(per_min.values()):,} {per_min}")
    print(f"  load average: {os.getloadavg()[0]:.2f}")
    sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
