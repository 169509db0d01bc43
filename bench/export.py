"""Stream a filtered job list as CSV (jobs.export) and time it, watching memory.

    python -m bench.export                          # every job in bench/results/bench.sqlite3
    DATABASE_URL=postgres://... python -m bench.export --query "status=Failed"

Reports rows, seconds to the header and to the last row, rows per second, and
the process's resident memory every 10,000 rows: flat memory means the last
sample is about the first.
"""

from __future__ import annotations

import argparse
import os
import time

from bench import _setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--query", default="", help="the jobs page's query string, e.g. 'tag=team=search'")
    args = parser.parse_args()
    _setup.setup(migrate=False)
    from django.http import QueryDict

    from jobs.export import csv_lines
    from jobs.filters import JobFilter

    flt = JobFilter.from_query(QueryDict(args.query))
    start = time.perf_counter()
    lines = csv_lines(flt)
    size = len(next(lines))
    header_s = time.perf_counter() - start
    rows, samples = 0, [_setup.rss_mb()]
    for line in lines:
        rows += 1
        size += len(line)
        if rows % 10_000 == 0:
            samples.append(_setup.rss_mb())
    total_s = time.perf_counter() - start
    print(f"query {args.query!r}: {rows:,} rows, {size / 2**20:.1f} MB of CSV")
    print(f"header after {header_s:.2f} s, last row after {total_s:.2f} s: {rows / total_s:,.0f} rows/s")
    print("RSS MB every 10,000 rows: " + " ".join(f"{mb:.0f}" for mb in samples))
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
