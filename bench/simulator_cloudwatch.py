"""GetMetricData from the simulated account: time for 500 queries a call, over boto3 and HTTP.

Cases: ``recent`` (the last 15 minutes of 500 series of running and recent
jobs, what a steady sync cycle asks), ``whole`` (500 series over their jobs'
whole lives, what a first fetch of finished jobs asks; pages of 100,800
points at most), ``hourly`` (the same at Period 3600, aggregating every
minute point). Prints p50/p95 over the repeats and the points returned.

    python -m bench.simulator_cloudwatch --jobs 1000 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config

from simulator import SimulatedSageMaker

NS = "/aws/sagemaker/TrainingJobs"


def _series(sim: SimulatedSageMaker, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` metrics of the newest jobs that have data: algorithm metrics and every host's."""
    metrics: list[dict[str, Any]] = []
    for name in reversed(sim.job_names()):
        i = sim.account.lookup(name, sim.clock.timestamp())
        act = sim.account.activity(i)
        if act.first_point("host") is None or act.first_point("host") > sim.clock.timestamp():
            continue
        metrics += [
            {"MetricName": n, "Dimensions": [{"Name": "TrainingJobName", "Value": name}]} for n, _ in act.metrics
        ]
        for h, host in enumerate(act.hosts(), 1):
            metrics += [{"MetricName": m, "Dimensions": [{"Name": "Host", "Value": host}]} for m in act.host_metrics(h)]
        if len(metrics) >= limit:
            break
    return metrics[:limit]


def _call(cw: Any, queries: list[dict[str, Any]], start: datetime, end: datetime) -> tuple[float, int, int]:
    began = time.perf_counter()
    points = pages = 0
    token = None
    while True:
        page = cw.get_metric_data(
            MetricDataQueries=queries, StartTime=start, EndTime=end, **({"NextToken": token} if token else {})
        )
        pages += 1
        points += sum(len(r["Values"]) for r in page["MetricDataResults"])
        token = page.get("NextToken")
        if not token:
            return time.perf_counter() - began, points, pages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    sim = SimulatedSageMaker(jobs=args.jobs, seed=1, speed=0, start=start).start()
    try:
        cw = boto3.client(
            "cloudwatch",
            endpoint_url=sim.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            config=Config(retries={"total_max_attempts": 1}, read_timeout=300),
        )
        series = _series(sim, 500)
        now = sim.clock.now()

        def queries(period: int) -> list[dict[str, Any]]:
            return [
                {"Id": f"q{k}", "MetricStat": {"Metric": {"Namespace": NS, **m}, "Period": period, "Stat": "Average"}}
                for k, m in enumerate(series)
            ]

        cases = {
            "recent": (queries(60), now - timedelta(minutes=15), now),
            "whole": (queries(60), now - timedelta(days=14), now),
            "hourly": (queries(3600), now - timedelta(days=14), now),
        }
        print(f"{len(series)} queries, {args.jobs} jobs, load average {os.getloadavg()[0]:.1f}")
        print("| case | first ms | p50 ms | p95 ms | points | calls |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name, (qs, lo, hi) in cases.items():
            first = _call(cw, qs, lo, hi)[0] * 1000  # cold: builds the jobs' series objects
            runs = [_call(cw, qs, lo, hi) for _ in range(args.repeats)]
            times = sorted(r[0] * 1000 for r in runs)
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            print(
                f"| {name} | {first:.0f} | {statistics.median(times):.0f} | {p95:.0f} | {runs[0][1]:,} | {runs[0][2]} |"
            )
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
