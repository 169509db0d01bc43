"""Ingest rate: DescribeTrainingJob responses parsed and stored per second, one process.

    python -m bench.ingest                 # 100,000 jobs into bench/results/ingest.sqlite3
    python -m bench.ingest --jobs 20000
    DATABASE_URL=postgres://postgres@127.0.0.1:5499/bench_ingest python -m bench.ingest

Each response goes through the real path, one job at a time:
``parse_training_job`` then ``ingest.store_description`` (its own
transaction, tags included, as a first describe has them). Building the
responses is not timed. RSS is sampled every 10,000 jobs to show that memory
stays flat; ``--tracemalloc`` adds Python-heap figures (and slows it down).
A second pass re-stores 10,000 of the jobs unchanged: what every cycle does
for running jobs.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
import tracemalloc

from bench import _setup

SAMPLE_EVERY = 10_000


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=10_000, help="jobs stored again unchanged")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--max-seconds", type=float, default=0, help="stop early (at a 10k sample) after this long")
    parser.add_argument("--db", default="ingest.sqlite3")
    parser.add_argument("--output", help="JSON summary path (default: bench/results/ingest-<db>-<time>.json)")
    args = parser.parse_args(argv)

    _setup.setup(args.db, fresh=True)
    from django.db import connection
    from django.utils import timezone

    from bench.generate import Generator
    from bench.report import Summary
    from jobs import ingest
    from jobs.domain.parse import parse_training_job
    from jobs.models import Source

    now = timezone.now()
    source = Source.objects.create(name="bench", region="us-east-1")
    generator = Generator(args.jobs, now=now, running=min(500, args.jobs // 10))
    if args.tracemalloc:
        tracemalloc.start()
    print(f"ingesting {args.jobs:,} jobs into {connection.vendor}, one store_description each")
    samples: list[tuple[int, float, float, float]] = []  # (jobs, rss MB, traced MB, rate in the window)
    stored = 0.0  # seconds inside parse + store
    cpu = 0.0  # this process's CPU seconds in the same spans (the machine may be shared)
    window = 0.0
    gc.collect()
    base_rss = rss_mb()
    began = time.monotonic()
    done = args.jobs
    for i in range(args.jobs):
        if args.max_seconds and i % SAMPLE_EVERY == 0 and i and time.monotonic() - began > args.max_seconds:
            done = i
            print(f"  stopped after {i:,} jobs: --max-seconds {args.max_seconds:g} reached")
            break
        raw, tags = generator.response(i)
        t0, c0 = time.perf_counter(), time.process_time()
        parsed = parse_training_job(raw)
        ingest.store_description(source, parsed, raw, now=now, tags=tags)
        spent = time.perf_counter() - t0
        cpu += time.process_time() - c0
        stored += spent
        window += spent
        if (i + 1) % SAMPLE_EVERY == 0 or i + 1 == args.jobs:
            traced = tracemalloc.get_traced_memory()[0] / 2**20 if args.tracemalloc else 0.0
            n = (i + 1) % SAMPLE_EVERY or SAMPLE_EVERY
            samples.append((i + 1, rss_mb(), traced, n / window))
            window = 0.0
            print(
                f"  {i + 1:>7,} jobs  {samples[-1][3]:>6,.0f}/s  RSS {samples[-1][1]:6.1f} MB"
                + (f"  traced {traced:6.1f} MB" if args.tracemalloc else "")
            )
    rate = done / stored

    repeat = min(args.repeat, done)
    again = 0.0
    outcomes: dict[str, int] = {}
    for i in range(done - repeat, done):
        raw, tags = generator.response(i)
        t0 = time.perf_counter()
        parsed = parse_training_job(raw)
        outcome = ingest.store_description(source, parsed, raw, now=now, tags=None)
        again += time.perf_counter() - t0
        outcomes[outcome.value] = outcomes.get(outcome.value, 0) + 1
    repeat_rate = repeat / again if again else 0.0
    print(f"  re-stored {repeat:,} unchanged: {repeat_rate:,.0f}/s {outcomes}")

    rss = [s[1] for s in samples]
    # Growth after the first sample: caches and the connection warm up in the first 10k.
    growth = rss[-1] - rss[0] if len(rss) > 1 else 0.0
    summary = Summary("ingest", meta={"jobs": done, "jobs_asked": args.jobs, "base_rss_mb": round(base_rss, 1)})
    target = 1000.0 if connection.vendor == "sqlite" else None
    summary.add(
        "ingest.new.jobs_per_s",
        rate,
        "jobs/s",
        target=target,
        better="higher",
        note="parse_training_job + store_description (with tags), one transaction per job",
    )
    summary.add(
        "ingest.new.cpu_ms_per_job",
        cpu / done * 1000,
        "ms",
        note="this process's CPU time per job (SQLite runs in-process; PostgreSQL's server CPU is not in it)",
    )
    summary.add(
        "ingest.unchanged.jobs_per_s",
        repeat_rate,
        "jobs/s",
        better="higher",
        note="the same responses stored again: a running job's describe every cycle",
    )
    summary.add("ingest.rss_first_sample_mb", rss[0], "MB", note=f"after {samples[0][0]:,} jobs")
    summary.add("ingest.rss_last_sample_mb", rss[-1], "MB", note=f"after {samples[-1][0]:,} jobs")
    summary.add(
        "ingest.rss_growth_mb",
        growth,
        "MB",
        target=25.0,
        note="RSS growth from the first 10k-job sample to the last (flat = bounded)",
    )
    if args.tracemalloc:
        summary.add("ingest.traced_growth_mb", samples[-1][2] - samples[0][2], "MB")
    for jobs_done, rss_value, traced, window_rate in samples:
        summary.meta.setdefault("samples", []).append(
            {
                "jobs": jobs_done,
                "rss_mb": round(rss_value, 1),
                "traced_mb": round(traced, 1),
                "jobs_per_s": round(window_rate),
            }
        )
    print()
    summary.print_table()
    path = summary.write(_setup.Path(args.output) if args.output else None)
    print(f"\nsummary: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
