"""Merge benchmark summaries into one file (the committed baselines).

    python -m bench.baseline bench/baseline-sqlite.json bench/results/pages-sqlite-final.json \\
        bench/results/ingest-sqlite-final.json bench/results/sync-sqlite-final.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output")
    parser.add_argument("inputs", nargs="+")
    args = parser.parse_args(argv)
    merged: dict = {"meta": {}, "results": {}}
    for name in args.inputs:
        data = json.loads(Path(name).read_text())
        bench = next(iter(data["results"]), "?").split(".")[0]
        meta = data.get("meta", {})
        for key in ("cpu", "cores", "memory_gb", "python", "django", "platform", "database", "commit"):
            merged["meta"].setdefault(key, meta.get(key))
        merged["meta"][bench] = {k: v for k, v in meta.items() if k in ("date", "loadavg", "jobs", "requests")}
        merged["results"].update(data["results"])
    Path(args.output).write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    print(f"{args.output}: {len(merged['results'])} metrics from {len(args.inputs)} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
