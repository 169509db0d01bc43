"""Compare two benchmark summaries metric by metric.

    python -m bench.compare bench/baseline-sqlite.json bench/results/pages-sqlite-<time>.json
    python -m bench.compare a.json b.json --threshold 10     # flag changes beyond 10%

Prints every metric both runs share: value in each, change, and whether it
got better or worse (a metric says which direction is better). Exits 1 when
a metric got worse by more than ``--threshold`` percent, so it can gate CI.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def load(path: str) -> dict[str, Any]:
    data = json.loads(Path(path).read_text())
    if "results" not in data:
        raise SystemExit(f"{path}: not a bench summary (no 'results')")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--threshold", type=float, default=20.0, help="percent change that counts as a regression")
    parser.add_argument("--all", action="store_true", help="also list metrics only one run has")
    args = parser.parse_args(argv)
    a, b = load(args.a), load(args.b)
    for label, data in (("A", a), ("B", b)):
        meta = data.get("meta", {})
        print(
            f"{label}: {meta.get('date', '?')}  commit {meta.get('commit', '?')}  {meta.get('database', '?')}  "
            f"load {meta.get('loadavg', '?')}"
        )
    ra, rb = a["results"], b["results"]
    shared = [k for k in ra if k in rb]
    width = max((len(k) for k in shared), default=10)
    print(f"\n{'metric':<{width}}  {'A':>10}  {'B':>10}  {'change':>8}")
    worse = 0
    for key in shared:
        va, vb = ra[key]["value"], rb[key]["value"]
        better = rb[key].get("better", "lower")
        change = (vb - va) / va * 100 if va else 0.0
        regressed = (change > args.threshold) if better == "lower" else (change < -args.threshold)
        improved = (change < -args.threshold) if better == "lower" else (change > args.threshold)
        flag = "WORSE" if regressed else "better" if improved else ""
        worse += regressed
        print(f"{key:<{width}}  {va:>10.1f}  {vb:>10.1f}  {change:>+7.0f}%  {flag}")
    if args.all:
        for key in sorted(set(ra) ^ set(rb)):
            print(f"{key:<{width}}  only in {'A' if key in ra else 'B'}")
    print(f"\n{len(shared)} shared metrics, {worse} worse by more than {args.threshold:g}%")
    return 1 if worse else 0


if __name__ == "__main__":
    raise SystemExit(main())
