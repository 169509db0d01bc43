"""Alert rule evaluation per cycle: queries and time of each decision at the generated scale.

    python -m bench.generate --jobs 100000 --running 1000 --db alerts.sqlite3   # once (~80 s)
    python -m bench.alerts --db alerts.sqlite3
    DATABASE_URL=postgres://postgres@127.0.0.1:55432/bench_alerts python -m bench.alerts

Every decision runs ``--repeats`` times inside a transaction that is rolled
back at the end, so the database is left as generated:

- decide: one cycle's changes through the change seam (``alerts.decide``):
  every running job moving phase, and 200 of them failing (the failed rule
  plus one scoped by tag, so the jobs' names and tags are read too);
- limits: running jobs past 90 % of MaxRuntime (``decide_limits``);
- stalls: running jobs stuck in a phase (``decide_stalls``): cold (the p95
  aggregate over 30 days of transitions) and warm (cached for the hour);
- budgets: spend per team today against a budget (``decide_budgets``);
- sources: source health (``decide_source_health``).

The first run of each decides its alerts (they are recorded); the repeats
are the steady state, with nothing new to decide: what every sweep costs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bench import _setup


class Rollback(Exception):
    pass


def _measure(fn: Callable[[], Any], repeats: int, before: Callable[[], None] | None = None) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    runs = []
    for _ in range(repeats + 1):
        if before is not None:
            before()
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            out = fn()
            elapsed = (time.perf_counter() - started) * 1000
        runs.append((elapsed, len(ctx.captured_queries), len(out) if out is not None else 0))
    first, steady = runs[0], runs[1:]
    ms = sorted(r[0] for r in steady)
    return {
        "first_ms": first[0],
        "first_queries": first[1],
        "decided": first[2],
        "p50_ms": statistics.median(ms),
        "max_ms": ms[-1],
        "queries": max(r[1] for r in steady),
    }


def run(repeats: int) -> dict[str, dict[str, Any]]:
    from django.core.cache import cache
    from django.db import transaction
    from django.utils import timezone

    from alerts import decide, limits
    from alerts.models import AlertKind, AlertRule
    from jobs.models import JobChange, TrainingJob

    now = timezone.now()
    results: dict[str, dict[str, Any]] = {}
    try:
        with transaction.atomic():
            # Rules older than the data, so the first run decides what it finds (none of it is history).
            AlertRule.objects.create(name="bench: vision failures", kind=AlertKind.FAILED, scope_tag="team=vision")
            AlertRule.objects.update(created_at=now - timedelta(days=365))
            AlertRule.objects.filter(kind=AlertKind.TEAM_BUDGET).update(daily_budget_usd=Decimal("500"))
            running = list(TrainingJob.objects.running().values_list("id", "source_id", "status", "secondary_status"))
            changes = [
                JobChange(
                    job_id=pk,
                    source_id=source_id,
                    old_status=status,
                    new_status="Failed" if i < 200 else status,
                    old_secondary_status=secondary,
                    new_secondary_status="Failed" if i < 200 else "Uploading",
                    last_modified_time=now,
                    created_at=now,
                )
                for i, (pk, source_id, status, secondary) in enumerate(running)
            ]
            results["decide"] = _measure(lambda: decide.decide(changes), repeats)
            results["limits"] = _measure(lambda: limits.decide_limits(now=now), repeats)
            results["stalls (p95 uncached)"] = _measure(lambda: limits.decide_stalls(now=now), repeats, cache.clear)
            results["stalls (p95 cached)"] = _measure(lambda: limits.decide_stalls(now=now), repeats)
            results["budgets"] = _measure(lambda: limits.decide_budgets(now=now), repeats)
            results["sources"] = _measure(lambda: limits.decide_source_health(now=now), repeats)
            results["_counts"] = {
                "running": len(running),
                "jobs": TrainingJob.objects.count(),
            }
            raise Rollback
    except Rollback:
        pass
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="alerts.sqlite3", help="SQLite file under bench/results/ (no DATABASE_URL)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--output", help="JSON summary path (default: bench/results/alerts-<db>-<time>.json)")
    args = parser.parse_args(argv)
    _setup.setup(args.db)

    from bench.report import Summary

    load = os.getloadavg()
    results = run(args.repeats)
    counts = results.pop("_counts")
    summary = Summary("alerts", meta={**counts, "repeats": args.repeats, "load_before": load})
    print(f"{counts['jobs']:,} jobs, {counts['running']:,} running; load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"{'evaluation':<24}{'decided':>8}{'1st q':>7}{'1st ms':>9}{'queries':>9}{'p50 ms':>9}{'max ms':>9}")
    for name, r in results.items():
        print(
            f"{name:<24}{r['decided']:>8}{r['first_queries']:>7}{r['first_ms']:>9.1f}"
            f"{r['queries']:>9}{r['p50_ms']:>9.1f}{r['max_ms']:>9.1f}"
        )
        summary.add(f"{name}.queries", r["queries"], "queries", target=10)
        summary.add(f"{name}.p50", r["p50_ms"], "ms")
        summary.add(f"{name}.first_queries", r["first_queries"], "queries")
        summary.add(f"{name}.first", r["first_ms"], "ms")
    print(f"load after {os.getloadavg()[0]:.1f}")
    from pathlib import Path

    path = summary.write(Path(args.output) if args.output else None)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
