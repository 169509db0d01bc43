"""CloudWatch on the job page and in the sync: page time, storage, calls per cycle.

    python -m bench.cloudwatch                    # SQLite under bench/results/
    python -m bench.cloudwatch --jobs 1000 --requests 30
    DATABASE_URL=postgres://postgres@127.0.0.1:55432/bench_cw python -m bench.cloudwatch

1. The detail page of a job with 8 hosts x 5 utilization series + 6 metric
   series of ``--points`` points each (test client, in process; p50/p95)
   and its SQL query count; bytes stored per series and job-day; time to
   append a minute's point to a full series (whole row rewritten vs newest
   day chunk, interleaved) and to rebuild its display copy.
2. ``--jobs`` running jobs against moto's server (SageMaker rows stored
   directly; CloudWatch and Logs seeded with boto3): calls per operation in
   the first cycle and in a steady cycle one minute later. moto cannot
   evaluate SEARCH, so this is the host-by-host path the sync falls back to.
3. ``--jobs`` running jobs of the simulated account (over HTTP; their rows
   stored from its DescribeTrainingJob, each with its own hosts and metric
   definitions): a steady cycle asked host by host, then one asked with a
   SEARCH per job, GetMetricData calls and queries per 100 jobs each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from bench import _setup


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def page(points: int, requests: int) -> None:
    from django.contrib.auth.models import User
    from django.db import connection, transaction
    from django.test import Client

    from jobs import cloudwatch_sync
    from jobs.domain import cloudwatch as cw
    from jobs.models import MetricSeries, SeriesChunk, TrainingJob
    from tests.cloudwatch_rows import store_full_job, store_tail
    from tests.factories import make_job

    TrainingJob.objects.filter(name="bench-cw-page").delete()
    job = make_job(
        "bench-cw-page",
        status="InProgress",
        ResourceConfig={"InstanceType": "ml.p4d.24xlarge", "InstanceCount": 8, "VolumeSizeInGB": 50},
    )
    start = datetime.now(UTC) - timedelta(minutes=points)
    t0 = time.perf_counter()
    store_full_job(job, start, points, hosts=8, metrics=6)
    for n in range(1, 9):
        store_tail(
            job, f"algo-{n}", [f"[{i}] step {i} loss={1 / (i + 1):.5f} throughput=812.3 samples/s" for i in range(1000)]
        )
    print(f"stored 46 series x {points:,} points + 8 x 1,000 log lines in {time.perf_counter() - t0:.1f} s")
    row = MetricSeries.objects.filter(job=job).first()
    chunks = SeriesChunk.objects.filter(series__job=job)
    stored = sum(len(p) for p in chunks.values_list("points", flat=True))
    days = points / 1440
    print(
        f"bytes per series: points {stored // 46:,} in {chunks.count() // 46} day chunks, display copy "
        f"{len(row.display):,}; per job-day (46 series) {stored / days:,.0f} points + {46 * len(row.display):,} display"
    )

    user = User.objects.filter(username="bench-cw").first() or User.objects.create_user("bench-cw", password="x")
    client = Client()
    client.force_login(user)
    url = f"/jobs/{job.pk}/"
    for _ in range(3):
        assert client.get(url).status_code == 200
    queries: list[str] = []

    def count(execute, sql, params, many, context):  # request_started clears connection.queries
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        body = client.get(url).content
    samples = []
    for _ in range(requests):
        t = time.perf_counter()
        client.get(url)
        samples.append(time.perf_counter() - t)
    p50, p95 = _ms(samples)
    print(
        f"detail page: p50 {p50:.1f} ms, p95 {p95:.1f} ms, {len(queries)} queries, "
        f"{len(body):,} bytes, {body.count(b'<polyline')} polylines"
    )

    # One new minute on a full series: what each cycle costs per series. Before: the whole series in one
    # row, rewritten (one chunk holding every point stands for it); after: the newest day's chunk only.
    # Interleaved, so load on the machine weighs on both alike.
    whole = MetricSeries.objects.filter(job=job).exclude(pk=row.pk).first()
    joined = SeriesChunk.objects.points_of([whole.pk])[whole.pk]
    SeriesChunk.objects.filter(series=whole).delete()
    one = SeriesChunk.objects.create(series=whole, day=datetime.now(UTC).date(), points=joined, point_count=points)
    key = cw.SeriesKey(job.name, row.name, row.host)
    before, after = [], []
    for i in range(20):
        t = time.perf_counter()
        with transaction.atomic():
            chunk = SeriesChunk.objects.select_for_update().get(pk=one.pk)
            cursor = cw.unpack_points(bytes(chunk.points)[-16:])[0][0]
            packed, count = cw.append_packed(chunk.points, [(cursor + 60, 1.0 + i)], cursor)
            chunk.points, chunk.point_count = packed, count
            chunk.save()
        before.append(time.perf_counter() - t)
        last = MetricSeries.objects.get(pk=row.pk).cursor.timestamp()
        t = time.perf_counter()
        cloudwatch_sync._store_points(job, key, [(last + 60, 1.0 + i)], datetime.now(UTC))
        after.append(time.perf_counter() - t)
    b50, b95 = _ms(before)
    a50, a95 = _ms(after)
    t = time.perf_counter()
    cw.lttb(cw.unpack_points(SeriesChunk.objects.points_of([row.pk])[row.pk]), cw.DISPLAY_POINTS)
    print(
        f"append one point to a {points:,}-point series: whole row rewritten p50 {b50:.1f} ms, p95 {b95:.1f} ms; "
        f"newest day chunk p50 {a50:.1f} ms, p95 {a95:.1f} ms; display rebuild (chunks joined) "
        f"{1000 * (time.perf_counter() - t):.0f} ms"
    )


def calls(jobs: int) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    from jobs import cloudwatch_sync, sagemaker
    from jobs.models import Source, TrainingJob
    from tests.factories import make_job

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        Source.objects.filter(name="bench-cw").delete()
        source = Source.objects.create(name="bench-cw", region="us-east-1", endpoint_url=url)
        now = datetime.now(UTC)
        started = now - timedelta(hours=1)
        names = [f"bench-cw-{i:04d}" for i in range(jobs)]
        t = time.perf_counter()
        for name in names:
            make_job(
                name,
                source=source,
                status="InProgress",
                created=started - timedelta(minutes=5),
                AlgorithmSpecification={
                    "TrainingImage": "x/train:1",
                    "TrainingInputMode": "File",
                    "MetricDefinitions": [{"Name": "train:loss", "Regex": "loss=(.*)"}],
                },
                ResourceConfig={"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
            )
        cwc = boto3.client("cloudwatch", endpoint_url=url)
        logs = boto3.client("logs", endpoint_url=url)
        logs.create_log_group(logGroupName=cw_group())

        def seed(minute: datetime) -> None:
            data = []
            for name in names:
                data.append(
                    {
                        "MetricName": "train:loss",
                        "Dimensions": [{"Name": "TrainingJobName", "Value": name}],
                        "Timestamp": minute,
                        "Value": 1.0,
                    }
                )
                for metric in (
                    "CPUUtilization",
                    "MemoryUtilization",
                    "GPUUtilization",
                    "GPUMemoryUtilization",
                    "DiskUtilization",
                ):
                    data.append(
                        {
                            "MetricName": metric,
                            "Dimensions": [{"Name": "Host", "Value": f"{name}/algo-1"}],
                            "Timestamp": minute,
                            "Value": 50.0,
                        }
                    )
            for i in range(0, len(data), 1000):
                cwc.put_metric_data(Namespace=cw_group(), MetricData=data[i : i + 1000])
            ms = int(minute.timestamp() * 1000)
            for name in names:
                logs.put_log_events(
                    logGroupName=cw_group(),
                    logStreamName=f"{name}/algo-1-1",
                    logEvents=[{"timestamp": ms, "message": "step"}],
                )

        for name in names:
            logs.create_log_stream(logGroupName=cw_group(), logStreamName=f"{name}/algo-1-1")
        seed(now - timedelta(minutes=2))
        print(f"seeded {jobs} running jobs (1 GPU host, 1 algorithm metric each) in {time.perf_counter() - t:.0f} s")

        counted: Counter = Counter()
        config = sagemaker.SourceConfig.of(source)
        for service in (sagemaker.CLOUDWATCH, sagemaker.LOGS):
            client = sagemaker.client_for(config, service)
            client.meta.events.register(
                f"before-call.{client.meta.service_model.service_name}.*",
                lambda model, **kw: counted.update([model.name]),
            )
        for label, at in (("first cycle", now), ("steady cycle, 1 min later", now + timedelta(minutes=1))):
            counted.clear()
            t = time.perf_counter()
            report = cloudwatch_sync.run(source, now=at)
            took = time.perf_counter() - t
            per100 = 100 * counted["GetMetricData"] / jobs
            print(
                f"{label}: {dict(sorted(counted.items()))}; GetMetricData per 100 jobs {per100:.2f}; "
                f"{report.points} points, {report.lines} lines, {report.errors} errors, {took:.1f} s"
            )
            seed(at)
        TrainingJob.objects.filter(source=source).delete()
    finally:
        server.stop()


def calls_simulator(jobs: int) -> None:
    from django.test import override_settings
    from django.utils import timezone

    from jobs import cloudwatch_sync, ingest, sagemaker
    from jobs.domain.parse import parse_training_job
    from jobs.models import CloudWatchFetch, Source, TrainingJob
    from simulator import SimulatedSageMaker

    start = datetime.now(UTC).replace(microsecond=0)
    # About one job in seven of the newest is running: a population this size has the running jobs asked for.
    sim = SimulatedSageMaker(jobs=max(20_000, jobs * 100), seed=1, speed=0, start=start).start()
    try:
        Source.objects.filter(name="bench-cw-sim").delete()
        source = Source.objects.create(name="bench-cw-sim", region="us-east-1", endpoint_url=sim.endpoint_url)
        t = time.perf_counter()
        running = []
        for name in reversed(sim.job_names()):
            d = sim.describe(name)
            if d["TrainingJobStatus"] == "InProgress":
                running.append(d)
                if len(running) == jobs:
                    break
        for d in running:
            ingest.store_description(source, parse_training_job(d), d, now=timezone.now(), tags={})
        now = sim.clock.now()
        # As after earlier cycles: metric names listed, fetched a minute ago (no history to catch up on).
        for job in TrainingJob.objects.filter(source=source):
            CloudWatchFetch.objects.update_or_create(
                job=job,
                defaults={
                    "fetched_at": now - timedelta(minutes=1),
                    "names_listed_at": now,
                    "metric_names": [m["Name"] for m in job.raw["AlgorithmSpecification"].get("MetricDefinitions", [])],
                },
            )
        hosts = sum(d["ResourceConfig"].get("InstanceCount", 1) for d in running)
        print(f"stored {len(running)} running simulated jobs ({hosts} hosts) in {time.perf_counter() - t:.0f} s")

        sent: list[list[dict]] = []
        client = sagemaker.client_for(sagemaker.SourceConfig.of(source), sagemaker.CLOUDWATCH)
        client.meta.events.register(
            "provide-client-params.monitoring.GetMetricData",
            lambda params, **kw: sent.append(params["MetricDataQueries"]),
        )
        cycles = (
            ("catch-up cycle, host by host", False),
            ("steady cycle, host by host", False),
            ("steady cycle, SEARCH", True),
        )
        for label, search in cycles:
            sim.clock.advance(60)
            sent.clear()
            cloudwatch_sync._NO_SEARCH.clear()
            t = time.perf_counter()
            with override_settings(TRAINWATCH_CLOUDWATCH_SEARCH=search):
                report = cloudwatch_sync.run(source, now=sim.clock.now())
            took = time.perf_counter() - t
            queries = sum(len(call) for call in sent)
            print(
                f"{label}: {len(sent)} GetMetricData ({100 * len(sent) / len(running):.2f} per 100 jobs), "
                f"{queries} queries ({queries / len(running):.2f} a job), {report.points} points, "
                f"{report.errors} errors, {took:.1f} s"
            )
        TrainingJob.objects.filter(source=source).delete()
    finally:
        sim.stop()


def cw_group() -> str:
    return "/aws/sagemaker/TrainingJobs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--skip-calls", action="store_true")
    parser.add_argument("--skip-page", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
    url = _setup.setup("bench-cloudwatch.sqlite3")
    print(f"database: {url.split('@')[-1]}; load average {os.getloadavg()[0]:.2f}")
    if not args.skip_page:
        page(args.points, args.requests)
    if not args.skip_calls:
        calls(args.jobs)
        calls_simulator(args.jobs)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
