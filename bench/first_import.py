"""First import: an empty database follows a simulated account's whole history.

    python -m bench.first_import                 # 5,000 jobs, with Search and describing only
    python -m bench.first_import --jobs 20000 --modes search

One inline ``run_cycle`` (what ``manage.py sync_jobs`` does) against the
simulated account over HTTP, clock frozen, into a fresh SQLite file (or
``DATABASE_URL``): the calls it makes, counted by the simulator, and its wall
time, with Search (the default) and with ``TRAINWATCH_SEARCH`` off.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime

from bench import _setup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--modes", default="search,describe", help="comma-separated: search, describe")
    parser.add_argument("--output")
    args = parser.parse_args(argv)

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["TRAINWATCH_LOOKBACK_DAYS"] = "60"  # the simulator's whole history
    _setup.setup("first-import.sqlite3", fresh=True)
    from django.conf import settings
    from django.db import connection

    from bench.report import Summary
    from jobs import sagemaker, sync
    from jobs.models import Source, TrainingJob
    from simulator import SimulatedSageMaker

    summary = Summary("first_import", meta={"jobs": args.jobs})
    start = datetime.now(UTC).replace(microsecond=0)
    with SimulatedSageMaker(jobs=args.jobs, seed=args.seed, speed=0, start=start) as sim:
        for mode in args.modes.split(","):
            settings.TRAINWATCH_SEARCH = mode == "search"
            TrainingJob.objects.all().delete()
            Source.objects.all().delete()
            sagemaker.reset_clients()
            source = Source.objects.create(name=mode, region="us-east-1", endpoint_url=sim.endpoint_url)
            sim.reset_stats()
            began = time.perf_counter()
            cycle = sync.run_cycle(source, now=sim.clock.now())
            seconds = time.perf_counter() - began
            calls = sim.stats["calls"]
            stored = source.jobs.filter(described_at__isnull=False).count()
            print(
                f"{mode}: {stored:,} of {cycle.listed:,} jobs stored in {seconds:.1f} s; calls: list "
                f"{calls['ListTrainingJobs']}, search {calls['Search']}, describe {calls['DescribeTrainingJob']}, "
                f"tags {calls['ListTags']} = {sim.stats['requests']}; errors {cycle.errors}"
            )
            summary.add(f"first_import.{mode}.calls", sim.stats["requests"], "calls")
            summary.add(f"first_import.{mode}.seconds", seconds, "s", note=f"{connection.vendor}, inline cycle")
            summary.add(f"first_import.{mode}.jobs_stored", stored, "jobs")
    summary.publish(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
