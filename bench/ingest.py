"""Ingest rate: DescribeTrainingJob responses parsed and stored per second, one process.

    python -m bench.ingest                 # 100,000 jobs into bench/results/ingest.sqlite3
    python -m bench.ingest --jobs 20000
    DATABASE_URL=postgres://postgres@127.0.0.1:5499/bench_ingest python -m bench.ingest

Each response goes through the real path the sync uses: ``parse_training_job``,
then ``ingest.store_descriptions`` for every ``--batch`` responses (one
transaction per batch, tags included, as a first describe has them). The
default is the sync's describe chunk, 20: one Search call by name, or the
describes of what Search did not return. Search by status stores up to 100
per call (running jobs): run ``--batch 100`` for that and report it beside
the default, not instead of it. Building the responses is not timed. RSS is
sampled every 10,000 jobs to show that memory stays flat; ``--tracemalloc``
adds Python-heap figures (and slows it down). Then ``--single`` more jobs
are stored one transaction each (``store_description``, the figure before
batching; ``--batch 1`` gives it for the whole run), and 10,000 of the jobs
are re-stored unchanged in batches: what every cycle does for running jobs.
Last, ``--changed`` of them are stored once more with one step more in their
history (the last one closed, a new one open, LastModifiedTime a minute
later): what a running job's describe brings when its phase moves.
"""

from __future__ import annotations

import argparse
import copy
import gc
import time
import tracemalloc
from datetime import timedelta

from bench import _setup

SAMPLE_EVERY = 10_000


def path_of(batch: int, describe_chunk: int) -> str:
    """Which of the sync's writes stores ``batch`` responses per transaction."""
    if batch == describe_chunk:
        return "a describe chunk: one Search page by name, or its describes"
    if batch == 100:
        return "a full Search page: running jobs, by status"
    return "no path of the sync"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=None, help="responses per transaction (default: the sync's)")
    parser.add_argument("--single", type=int, default=2_000, help="more jobs stored one transaction each")
    parser.add_argument("--repeat", type=int, default=10_000, help="jobs stored again unchanged")
    parser.add_argument("--changed", type=int, default=5_000, help="jobs stored again with one more step")
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
    from jobs import ingest, sync
    from jobs.domain.parse import parse_training_job
    from jobs.models import Source

    batch = args.batch or sync.DESCRIBE_CHUNK
    now = timezone.now()
    source = Source.objects.create(name="bench", region="us-east-1")
    total = args.jobs + args.single
    generator = Generator(total, now=now, running=min(500, total // 10))
    if args.tracemalloc:
        tracemalloc.start()
    print(
        f"ingesting {args.jobs:,} jobs into {connection.vendor}, {batch} per store_descriptions transaction"
        f" ({path_of(batch, sync.DESCRIBE_CHUNK)})"
    )
    samples: list[tuple[int, float, float, float]] = []  # (jobs, rss MB, traced MB, rate in the window)
    stored = 0.0  # seconds inside parse + store
    cpu = 0.0  # this process's CPU seconds in the same spans (the machine may be shared)
    window = 0.0
    gc.collect()
    base_rss = _setup.rss_mb()
    began = time.monotonic()
    done = args.jobs
    pending: list[tuple[dict, dict]] = []
    for i in range(args.jobs):
        if args.max_seconds and i % SAMPLE_EVERY == 0 and i and time.monotonic() - began > args.max_seconds:
            done = i
            print(f"  stopped after {i:,} jobs: --max-seconds {args.max_seconds:g} reached")
            break
        pending.append(generator.response(i))
        if len(pending) < batch and (i + 1) % SAMPLE_EVERY and i + 1 != args.jobs:
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        items = [ingest.Description(parse_training_job(raw), raw, tags) for raw, tags in pending]
        ingest.store_descriptions(source, items, now=now)
        spent = time.perf_counter() - t0
        cpu += time.process_time() - c0
        stored += spent
        window += spent
        pending = []
        if (i + 1) % SAMPLE_EVERY == 0 or i + 1 == args.jobs:
            traced = tracemalloc.get_traced_memory()[0] / 2**20 if args.tracemalloc else 0.0
            n = (i + 1) % SAMPLE_EVERY or SAMPLE_EVERY
            samples.append((i + 1, _setup.rss_mb(), traced, n / window))
            window = 0.0
            print(
                f"  {i + 1:>7,} jobs  {samples[-1][3]:>6,.0f}/s  RSS {samples[-1][1]:6.1f} MB"
                + (f"  traced {traced:6.1f} MB" if args.tracemalloc else "")
            )
    rate = done / stored

    single = 0.0
    single_cpu = 0.0
    for i in range(args.jobs, total):
        raw, tags = generator.response(i)
        t0, c0 = time.perf_counter(), time.process_time()
        ingest.store_description(source, parse_training_job(raw), raw, now=now, tags=tags)
        single += time.perf_counter() - t0
        single_cpu += time.process_time() - c0
    single_rate = args.single / single if single else 0.0
    if args.single:
        print(f"  {args.single:,} more jobs one transaction each: {single_rate:,.0f}/s")

    repeat = min(args.repeat, done)
    again = 0.0
    outcomes: dict[str, int] = {}
    for start in range(done - repeat, done, batch):
        responses = [generator.response(i)[0] for i in range(start, min(start + batch, done))]
        t0 = time.perf_counter()
        items = [ingest.Description(parse_training_job(raw), raw) for raw in responses]
        for outcome in ingest.store_descriptions(source, items, now=now):
            outcomes[outcome.value] = outcomes.get(outcome.value, 0) + 1
        again += time.perf_counter() - t0
    repeat_rate = repeat / again if again else 0.0
    print(f"  re-stored {repeat:,} unchanged: {repeat_rate:,.0f}/s {outcomes}")

    changed = min(args.changed, done)
    moved = 0.0
    moved_outcomes: dict[str, int] = {}
    for start in range(done - changed, done, batch):
        responses = [_one_step_more(generator.response(i)[0]) for i in range(start, min(start + batch, done))]
        t0 = time.perf_counter()
        items = [ingest.Description(parse_training_job(raw), raw) for raw in responses]
        for outcome in ingest.store_descriptions(source, items, now=now):
            moved_outcomes[outcome.value] = moved_outcomes.get(outcome.value, 0) + 1
        moved += time.perf_counter() - t0
    changed_rate = changed / moved if moved else 0.0
    if changed:
        print(f"  re-stored {changed:,} with one step more: {changed_rate:,.0f}/s {moved_outcomes}")

    rss = [s[1] for s in samples]
    # Growth after the first sample: caches and the connection warm up in the first 10k.
    growth = rss[-1] - rss[0] if len(rss) > 1 else 0.0
    summary = Summary(
        "ingest",
        meta={
            "jobs": done,
            "jobs_asked": args.jobs,
            "batch": batch,
            "path": path_of(batch, sync.DESCRIBE_CHUNK),
            "base_rss_mb": round(base_rss, 1),
        },
    )
    # Issue 8's budget: twice the most AWS can deliver through Search.
    target = 500.0 if connection.vendor == "sqlite" else None
    summary.add(
        "ingest.new.jobs_per_s",
        rate,
        "jobs/s",
        target=target,
        better="higher",
        note=f"parse_training_job + store_descriptions (with tags), {batch} per transaction"
        f" ({path_of(batch, sync.DESCRIBE_CHUNK)})",
    )
    summary.add(
        "ingest.new.cpu_ms_per_job",
        cpu / done * 1000,
        "ms",
        note="this process's CPU time per job (SQLite runs in-process; PostgreSQL's server CPU is not in it)",
    )
    if args.single:
        summary.add(
            "ingest.single.jobs_per_s",
            single_rate,
            "jobs/s",
            better="higher",
            note=f"{args.single:,} more jobs, store_description: one transaction per job",
        )
        summary.add("ingest.single.cpu_ms_per_job", single_cpu / args.single * 1000, "ms")
    summary.add(
        "ingest.unchanged.jobs_per_s",
        repeat_rate,
        "jobs/s",
        better="higher",
        note=f"the same responses stored again, {batch} per transaction: a running job's describe every cycle",
    )
    if changed:
        summary.add(
            "ingest.changed.jobs_per_s",
            changed_rate,
            "jobs/s",
            better="higher",
            note=f"stored again with one step more in their history, {batch} per transaction: a phase moved",
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
    summary.publish(args.output)
    return 0


def _one_step_more(raw: dict) -> dict:
    """The response a minute later: its last step closed and a new one open."""
    raw = copy.deepcopy(raw)
    steps = raw.setdefault("SecondaryStatusTransitions", [])
    later = raw["LastModifiedTime"] + timedelta(minutes=1)
    if steps:
        steps[-1].setdefault("EndTime", later)
    steps.append({"Status": "Uploading", "StartTime": later, "StatusMessage": "Uploading generated training model"})
    raw["LastModifiedTime"] = later
    return raw


if __name__ == "__main__":
    raise SystemExit(main())
