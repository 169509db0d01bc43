"""Tables for people, JSON for compare.py.

A summary is ``{"meta": {...}, "results": {name: {"value", "unit", "target",
"better", "ok", "note"}}}``: flat names ("pages.http.newest.p50_ms") so two
runs compare key by key.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._setup import RESULTS, ROOT


@dataclass
class Result:
    name: str
    value: float
    unit: str
    target: float | None = None
    better: str = "lower"  # or "higher"
    note: str = ""

    @property
    def ok(self) -> bool | None:
        if self.target is None:
            return None
        return self.value <= self.target if self.better == "lower" else self.value >= self.target

    def as_json(self) -> dict[str, Any]:
        return {
            "value": round(self.value, 3),
            "unit": self.unit,
            "target": self.target,
            "better": self.better,
            "ok": self.ok,
            "note": self.note,
        }


@dataclass
class Summary:
    bench: str
    meta: dict[str, Any] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)

    def add(self, name: str, value: float, unit: str, **kwargs: Any) -> Result:
        result = Result(name, value, unit, **kwargs)
        self.results.append(result)
        return result

    def as_json(self) -> dict[str, Any]:
        return {"meta": {**machine(), **self.meta}, "results": {r.name: r.as_json() for r in self.results}}

    def write(self, path: Path | None = None) -> Path:
        from django.db import connection

        vendor = connection.vendor
        if path is None:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            path = RESULTS / f"{self.bench}-{vendor}-{stamp}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.as_json()
        data["meta"]["database"] = vendor
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        return path

    def print_table(self) -> None:
        print_results(self.results)

    def publish(self, output: str | None) -> None:
        """Print the table, then write the JSON summary (to ``output`` if given) and say where."""
        print()
        self.print_table()
        path = self.write(Path(output) if output else None)
        print(f"\nsummary: {path}")


def print_results(results: list[Result]) -> None:
    rows = [("metric", "value", "unit", "target", "met")]
    for r in results:
        target = "" if r.target is None else f"{'≤' if r.better == 'lower' else '≥'} {r.target:g}"
        met = "" if r.ok is None else ("yes" if r.ok else "NO")
        rows.append((r.name, f"{r.value:,.1f}" if abs(r.value) < 1e6 else f"{r.value:,.0f}", r.unit, target, met))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for k, row in enumerate(rows):
        cells = zip(row, widths, strict=True)
        print("  ".join(cell.rjust(w) if i == 1 else cell.ljust(w) for i, (cell, w) in enumerate(cells)).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))


def machine() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = 0.0
    with contextlib.suppress(ValueError, OSError):
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    import django

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "python": platform.python_version(),
        "django": django.get_version(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "platform": platform.platform(),
        "loadavg": load,
    }


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]
