"""Fill a benchmark database with jobs at scale, as the ingest path would store them.

    python -m bench.generate                      # 100,000 jobs into bench/results/bench.sqlite3
    DATABASE_URL=postgres://postgres@127.0.0.1:5499/bench python -m bench.generate
    python -m bench.generate --jobs 20000 --running 200

Each job starts as a DescribeTrainingJob-like response (aware datetimes, as
boto3 returns them) and goes through the product's own mapping:
``jobs.domain.parse.parse_training_job``, ``jobs.ingest._detail_fields``,
``merge_transitions`` and ``_jsonable``; only the writes differ (bulk inserts
in batches instead of one transaction per job). Proportions follow the
simulated account (``simulator/``): 64% completed, 20% failed with varied
reasons, ~10% stopped, 10% of jobs launched by tuning jobs in blocks of 20,
mixed instance types, 4-5 tags per job, the newest jobs still running; about
10 transitions and 4 final metrics per job on average, and one job in 1,000
a long spot job with exactly 50 transitions (the detail benchmark's case).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from random import Random
from typing import Any

from bench import _setup

DAY = 86400.0
TUNING_BLOCK = 20
LONG_HAUL_EVERY = 1000  # one job in this many has exactly LONG_HAUL_TRANSITIONS transitions
LONG_HAUL_TRANSITIONS = 50
ACCOUNT = "123456789012"
REGIONS = ("us-east-1", "eu-west-1")

# Metrics per family: what the jobs' MetricDefinitions emit at the end.
METRICS = {
    "pytorch": ("train:loss", "validation:loss", "validation:accuracy", "train:accuracy", "train:epoch_seconds"),
    "huggingface": ("train:loss", "eval:loss", "eval:f1", "eval:accuracy", "train:learning_rate"),
    "tensorflow": ("train:loss", "validation:loss", "validation:accuracy", "train:accuracy", "validation:top5"),
    "xgboost": ("train:rmse", "validation:rmse", "validation:auc", "train:auc", "validation:logloss"),
    "custom": ("train:loss", "validation:auc", "validation:precision", "validation:recall"),
    "marketplace": ("validation:auc", "validation:f1", "validation:precision"),
}

# (kind, weight) among failed jobs; most failures happen in training.
FAILURES = (
    ("oom", 22),
    ("keyerror", 8),
    ("nan", 6),
    ("exit137", 6),
    ("s3_denied", 16),
    ("s3_write", 4),
    ("bad_image", 8),
    ("capacity", 12),
    ("resource_limit", 9),
    ("internal", 5),
    ("spot_wait", 4),
)
EARLY_FAILURES = {
    "s3_denied": "Downloading",
    "bad_image": "DownloadingTrainingImage",
    "capacity": "LaunchingMLInstances",
    "resource_limit": "Starting",
    "spot_wait": "Interrupted",
}


def _weighted(rng: Random, pairs: Iterable[tuple[Any, ...]]) -> Any:
    pairs = tuple(pairs)
    r = rng.random() * sum(p[1] for p in pairs)
    for p in pairs:
        r -= p[1]
        if r < 0:
            return p[0]
    return pairs[-1][0]


class Generator:
    """Deterministic responses for ``jobs`` jobs ending at ``now``, the newest ``running`` still running."""

    def __init__(self, jobs: int, *, seed: int = 1, now: datetime, days: float = 180, running: int = 500) -> None:
        from simulator import texts

        self.texts = texts
        self.jobs = jobs
        self.seed = seed
        self.now = now
        self.running = running
        self.interval = days * DAY / jobs
        self.origin = now.timestamp() - days * DAY

    def responses(self) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
        for i in range(self.jobs):
            yield self.response(i)

    def response(self, i: int) -> tuple[dict[str, Any], dict[str, str]]:
        """(DescribeTrainingJob response, tags) for job ``i`` (older first)."""
        t = self.texts
        rng = Random(self.seed * 1_000_003 + i)
        block = i // TUNING_BLOCK
        block_rng = Random(self.seed * 7_919 + block)
        tuned = block_rng.random() < 0.10
        region = REGIONS[0] if rng.random() < 0.8 else REGIONS[1]
        family = _weighted(block_rng if tuned else rng, t.FAMILY_WEIGHTS)
        created = self.origin + (i + 0.05 + 0.9 * rng.random()) * self.interval
        stamp = datetime.fromtimestamp(created, UTC)
        prefix = t.FAMILIES[family][0]
        tuner = ""
        if tuned:
            tuner = f"{prefix.split('-')[0][:10]}-hpo-{stamp:%y%m%d-%H%M}-{block % 1000:03d}"
            name = f"{tuner}-{i % TUNING_BLOCK + 1:03d}-{rng.getrandbits(32):08x}"
        else:
            name = f"{prefix}-{stamp:%Y-%m-%d-%H-%M-%S}-{round(created * 1000) % 1000:03d}"
        name = name[:63]

        hw = block_rng if tuned else rng
        groups: list[dict[str, Any]] = []
        if hw.random() < 0.05:
            gpu = hw.choice(("ml.p3.2xlarge", "ml.g5.2xlarge", "ml.p4d.24xlarge"))
            groups = [
                {"InstanceType": gpu, "InstanceCount": hw.randint(1, 4), "InstanceGroupName": "train-gpu"},
                {"InstanceType": "ml.c5.2xlarge", "InstanceCount": hw.randint(1, 4), "InstanceGroupName": "data-cpu"},
            ]
            itype = gpu
            count = sum(g["InstanceCount"] for g in groups)
        else:
            itype = _weighted(hw, t.INSTANCE_TYPES)
            count = 1 if hw.random() < 0.75 else hw.randint(2, 8)
        long_haul = i % LONG_HAUL_EVERY == LONG_HAUL_EVERY // 2
        spot = long_haul or rng.random() < 0.3
        max_runtime = rng.choice((86400, 86400, 86400, 14400, 43200, 172800))
        if long_haul:
            max_runtime = 432000

        running = i >= self.jobs - self.running
        r = rng.random()
        outcome = "completed" if r < 0.64 else "failed" if r < 0.84 else "stopped" if r < 0.94 else "max_runtime"
        if long_haul:
            outcome = "completed"
        if outcome == "max_runtime" and spot:
            outcome = "completed"
        fail_kind = _weighted(rng, FAILURES) if outcome == "failed" else None

        events = self._events(rng, created, outcome, fail_kind, spot, long_haul, max_runtime)
        visible = len(events)
        if running:
            # Cut the life short: the job is somewhere before its end, still running.
            visible = rng.randint(1, max(1, len(events) - 2))
            if events[visible - 1][0] in ("Completed", "Failed", "Stopped", "MaxRuntimeExceeded"):
                visible -= 1
            visible = max(1, visible)
            # Running jobs are the newest; stretch their timeline to end at most now.
            shift = max(0.0, events[visible - 1][1] - (self.now.timestamp() - 30))
            events = [(s, st - shift, m) for s, st, m in events]
            created = min(created, events[0][1])
        transitions = []
        for k in range(visible):
            status, start, message = events[k]
            item: dict[str, Any] = {"Status": status, "StartTime": _dt(start)}
            if k + 1 < visible:
                item["EndTime"] = _dt(events[k + 1][1])
            elif not running:
                item["EndTime"] = _dt(start)
            item["StatusMessage"] = message
            transitions.append(item)
        last = events[visible - 1]
        final = last[0]
        if running:
            status = "Stopping" if rng.random() < 0.01 else "InProgress"
            secondary = "Stopping" if status == "Stopping" else final
        else:
            status = {"MaxRuntimeExceeded": "Stopped"}.get(final, final)
            secondary = final
        downloads = [e[1] for e in events[:visible] if e[0] == "Downloading"]
        training_start = downloads[0] if downloads else None
        training_end = last[1] if not running and training_start is not None else None

        team = rng.choice(t.TEAMS)
        project = rng.choice(t.PROJECTS)
        bucket = rng.choice(t.BUCKETS)
        role = f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMaker-ExecutionRole-{team}"
        image_tpl, _ = t.FAMILIES[family][1:]
        image = image_tpl.format(region=region, account=ACCOUNT, version=rng.randint(1, 40))
        output = f"s3://{bucket}/{project}/output"
        metric_names = METRICS[family]
        algo: dict[str, Any] = {"TrainingInputMode": rng.choice(("File", "File", "FastFile", "Pipe"))}
        if family == "marketplace":
            algo["AlgorithmName"] = f"arn:aws:sagemaker:{region}:{ACCOUNT}:algorithm/fraud-gbm-v{rng.randint(1, 9)}"
        else:
            algo["TrainingImage"] = image
        algo["MetricDefinitions"] = [{"Name": m, "Regex": f"{m}=([0-9\\.]+)"} for m in metric_names]
        hyper = {
            "epochs": str(rng.randint(1, 30)),
            "learning-rate": f"{10 ** rng.uniform(-5, -2):.6f}",
            "batch-size": str(rng.choice((16, 32, 64, 128))),
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": f'"s3://{bucket}/{project}/code/sourcedir.tar.gz"',
        }
        if tuned:
            hyper["_tuning_objective_metric"] = metric_names[2 % len(metric_names)]
        resource: dict[str, Any] = {"VolumeSizeInGB": rng.choice((30, 50, 100, 500))}
        if groups:
            resource["InstanceGroups"] = groups
        else:
            resource["InstanceType"] = itype
            resource["InstanceCount"] = count
        keep_alive = rng.choice((600, 1800, 3600)) if not spot and rng.random() < 0.15 else None
        if keep_alive:
            resource["KeepAlivePeriodInSeconds"] = keep_alive
        stopping: dict[str, Any] = {"MaxRuntimeInSeconds": max_runtime}
        if spot:
            stopping["MaxWaitTimeInSeconds"] = max_runtime + rng.choice((3600, 7200, 86400))
        arn = f"arn:aws:sagemaker:{region}:{ACCOUNT}:training-job/{name}"
        d: dict[str, Any] = {"TrainingJobName": name, "TrainingJobArn": arn}
        if tuned:
            d["TuningJobArn"] = f"arn:aws:sagemaker:{region}:{ACCOUNT}:hyper-parameter-tuning-job/{tuner}"
        d["ModelArtifacts"] = {"S3ModelArtifacts": f"{output}/{name}/output/model.tar.gz"}
        d["TrainingJobStatus"] = status
        d["SecondaryStatus"] = secondary
        if status == "Failed":
            d["FailureReason"] = self._failure(rng, fail_kind, itype, count, role, bucket, project, image)
        d["HyperParameters"] = hyper
        d["AlgorithmSpecification"] = algo
        d["RoleArn"] = role
        d["InputDataConfig"] = [
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{bucket}/{project}/data/{channel}/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": "application/x-parquet",
            }
            for channel in (("train", "validation") if rng.random() < 0.7 else ("train",))
        ]
        d["OutputDataConfig"] = {"S3OutputPath": output}
        d["ResourceConfig"] = resource
        if keep_alive and not running:
            d["WarmPoolStatus"] = {"Status": "Terminated", "ResourceRetainedBillableTimeInSeconds": keep_alive}
        d["StoppingCondition"] = stopping
        d["CreationTime"] = _dt(created)
        if training_start is not None:
            d["TrainingStartTime"] = _dt(training_start)
        if training_end is not None:
            d["TrainingEndTime"] = _dt(training_end)
        d["LastModifiedTime"] = _dt(last[1] + ((keep_alive or 0) if not running else 0))
        d["SecondaryStatusTransitions"] = transitions
        trained = any(e[0] == "Training" for e in events[:visible])
        if not running and trained and (outcome != "failed" or rng.random() < 0.5):
            names = metric_names if outcome != "failed" else metric_names[:2]
            d["FinalMetricDataList"] = [
                {"MetricName": m, "Value": _metric_value(m, rng), "Timestamp": _dt(last[1])} for m in names
            ]
        d["EnableNetworkIsolation"] = rng.random() < 0.1
        d["EnableInterContainerTrafficEncryption"] = False
        d["EnableManagedSpotTraining"] = spot
        if training_end is not None and training_start is not None:
            seconds = int(training_end - training_start)
            d["TrainingTimeInSeconds"] = seconds
            d["BillableTimeInSeconds"] = int(seconds * rng.uniform(0.3, 0.7)) if spot else seconds
        tags = {
            "team": team,
            "project": project,
            "environment": rng.choice(("dev", "staging", "prod")),
            "owner": rng.choice(t.OWNERS),
        }
        if rng.random() < 0.5:
            tags["cost-center"] = f"cc-{rng.randint(1000, 1099)}"
        return d, tags

    def _events(
        self,
        rng: Random,
        created: float,
        outcome: str,
        fail_kind: str | None,
        spot: bool,
        long_haul: bool,
        max_runtime: int,
    ) -> list[tuple[str, float, str]]:
        msg = self.texts.MSG
        events: list[tuple[str, float, str]] = []
        clock = created

        def add(status: str, duration: float, message: str | None = None) -> None:
            nonlocal clock
            events.append((status, clock, message or msg[status]))
            clock += duration

        early = EARLY_FAILURES.get(fail_kind or "")

        def prefix(first: bool) -> bool:
            if first and early == "Starting":
                add("Starting", rng.uniform(5, 40))
                add("Failed", 0)
                return False
            add("Starting", rng.uniform(60, 300))
            if rng.random() < 0.05:
                add("Pending", rng.uniform(300, 1800))
            if first and early == "LaunchingMLInstances":
                add("LaunchingMLInstances", rng.uniform(600, 2400), msg["LaunchingMLInstancesRetry"])
                add("Failed", 0)
                return False
            add("LaunchingMLInstances", rng.uniform(60, 240))
            add("PreparingTrainingStack", rng.uniform(30, 180))
            if first and early == "Downloading":
                add("Downloading", rng.uniform(20, 120))
                add("Failed", 0)
                return False
            add("Downloading", rng.uniform(60, 600))
            if first and early == "DownloadingTrainingImage":
                add("DownloadingTrainingImage", rng.uniform(20, 90))
                add("Failed", 0)
                return False
            add("DownloadingTrainingImage", rng.uniform(60, 600))
            return True

        if not prefix(True):
            return events
        total = min(max(600.0, math.exp(rng.gauss(math.log(3600), 1.2))), 0.85 * max_runtime - 1200)
        if long_haul:
            # 5 + 6 x (Training, Interrupted, 5 prefix steps) + Training, Uploading, Completed = 50
            breaks = (LONG_HAUL_TRANSITIONS - 8) // 7
        elif spot:
            breaks = rng.choice((0, 0, 1, 1, 2, 3))
        else:
            breaks = 1 if rng.random() < 0.08 else 0
        segment = total / (breaks + 1)
        for k in range(breaks):
            add("Training", segment, msg["Training"] if k == 0 else msg["TrainingResumed"])
            if spot:
                add("Interrupted", rng.uniform(120, 1800))
            else:
                add("Restarting", rng.uniform(30, 120))
            prefix(False)
        resumed = msg["TrainingResumed"] if breaks else msg["Training"]
        if early == "Interrupted":
            add("Training", segment, resumed)
            add("Interrupted", rng.uniform(3600, 7200), msg["Interrupted"])
            add("Failed", 0)
        elif fail_kind is not None:
            add("Training", segment * rng.uniform(0.05, 0.95), resumed)
            add("Failed", 0)
        elif outcome == "max_runtime":
            add("Training", max_runtime, resumed)
            add("Stopping", rng.uniform(30, 90), msg["MaxRuntimeExceeded"])
            add("MaxRuntimeExceeded", 0)
        elif outcome == "stopped":
            add("Training", segment * rng.uniform(0.05, 0.95), resumed)
            add("Stopping", rng.uniform(60, 120))
            add("Stopped", 0)
        else:
            add("Training", segment, resumed)
            add("Uploading", rng.uniform(60, 300))
            add("Completed", 0)
        return events

    def _failure(
        self, rng: Random, kind: str | None, itype: str, count: int, role: str, bucket: str, project: str, image: str
    ) -> str:
        t = self.texts
        line = rng.randint(20, 400)
        if kind == "oom":
            text = t.OOM_TAIL.format(line=line, line2=line + rng.randint(5, 90), epochs=rng.randint(1, 30))
        elif kind == "keyerror":
            text = t.KEYERROR_TAIL.format(line=line)
        elif kind == "nan":
            text = t.NAN_TAIL.format(line=line * 100, lr=f"{10 ** rng.uniform(-5, -2):.6f}")
        elif kind == "exit137":
            text = (
                'AlgorithmError: ExecuteUserScriptError:\nExitCode 137\nErrorMessage ""\n'
                f'Command "/opt/conda/bin/python3.11 train.py --epochs {rng.randint(1, 30)}", exit code: 137'
            )
        elif kind == "s3_denied":
            text = t.S3_DENIED.format(role=role, bucket=bucket, path=f"{project}/data/train/part-{line:04d}.parquet")
        elif kind == "s3_write":
            text = (
                f"ClientError: Please ensure that the role {role} has s3:PutObject permission "
                f"on s3://{bucket}/{project}/output/ (Access Denied, request id {rng.getrandbits(64):016X})"
            )
        elif kind == "bad_image":
            text = t.BAD_IMAGE.format(image=image or "unknown")
        elif kind == "capacity":
            text = t.CAPACITY
        elif kind == "resource_limit":
            text = t.RESOURCE_LIMIT.format(itype=itype, limit=rng.randint(0, 4), count=count)
        elif kind == "spot_wait":
            text = (
                "CapacityError: Training job failed: MaxWaitTimeInSeconds exceeded while waiting for "
                f"spot capacity for {itype}."
            )
        else:
            text = t.INTERNAL
        return text[:1024]


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(round(ts, 3), UTC)


def _metric_value(name: str, rng: Random) -> float:
    if any(word in name for word in ("accuracy", "auc", "f1", "precision", "recall", "top5")):
        return round(rng.uniform(0.6, 0.995), 6)
    if "learning_rate" in name:
        return round(10 ** rng.uniform(-6, -3), 9)
    if "rmse" in name or "seconds" in name:
        return round(rng.uniform(0.1, 500.0), 6)
    return round(rng.uniform(0.02, 1.5), 6)


def bulk_store(
    source: Any,
    items: Iterable[tuple[dict[str, Any], dict[str, str]]],
    *,
    now: datetime,
    batch: int = 2000,
    progress: Any = None,
) -> dict[str, int]:
    """Store (response, tags) pairs as ``store_description`` would, in bulk.

    Same rows as the real path: parsed by ``parse_training_job``, mapped by
    ``_detail_fields``, transitions through ``merge_transitions``, raw through
    ``_jsonable``, tags as the JSON column and as JobTag rows. Values go
    through each field's ``get_db_prep_save`` (what bulk_create does), then
    one ``executemany`` per table and batch: Django's bulk_create spent 80%
    of its time assembling SQL text for a million small rows.
    """
    from django.db import connection, transaction
    from django.db.models import Max

    from jobs.domain.parse import parse_training_job
    from jobs.domain.timeline import merge_transitions
    from jobs.ingest import _detail_fields, _jsonable
    from jobs.models import FinalMetric, JobTag, StatusTransition, TrainingJob

    counts = {"jobs": 0, "transitions": 0, "metrics": 0, "tags": 0}
    next_id = (TrainingJob.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    adapt = connection.ops.adapt_datetimefield_value

    def insert(model: Any, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        qn = connection.ops.quote_name
        sql = (
            f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(c) for c in columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))})"
        )
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)

    job_fields = [f for f in TrainingJob._meta.concrete_fields]
    job_columns = [f.column for f in job_fields]

    def flush(pending: list[tuple[TrainingJob, Any, dict[str, str]]]) -> None:
        jobs, transitions, metrics, tag_rows = [], [], [], []
        for job, parsed, tags in pending:
            jobs.append(tuple(f.get_db_prep_save(getattr(job, f.attname), connection) for f in job_fields))
            for k, tr in enumerate(merge_transitions([], parsed.transitions)):
                transitions.append((job.pk, k, tr.status, adapt(tr.start_time), adapt(tr.end_time), tr.message))
            incoming = {m.name: (m.value, m.timestamp) for m in parsed.metrics}
            metrics.extend((job.pk, name, value, adapt(ts)) for name, (value, ts) in incoming.items())
            tag_rows.extend((job.pk, k[:128], v[:256]) for k, v in tags.items())
        with transaction.atomic():
            insert(TrainingJob, job_columns, jobs)
            insert(StatusTransition, ["job_id", "position", "status", "start_time", "end_time", "message"], transitions)
            insert(FinalMetric, ["job_id", "name", "value", "timestamp"], metrics)
            insert(JobTag, ["job_id", "key", "value"], tag_rows)
        counts["jobs"] += len(jobs)
        counts["transitions"] += len(transitions)
        counts["metrics"] += len(metrics)
        counts["tags"] += len(tag_rows)

    pending: list[tuple[TrainingJob, Any, dict[str, str]]] = []
    for raw, tags in items:
        parsed = parse_training_job(raw)
        job = TrainingJob(
            id=next_id,
            source=source,
            arn=parsed.arn,
            last_modified_time=parsed.last_modified_time,
            tags=tags,
            tags_fetched_at=now,
            raw=_jsonable(raw),
            described_at=now,
            described_last_modified_time=parsed.last_modified_time,
            **_detail_fields(parsed, now),
        )
        next_id += 1
        pending.append((job, parsed, tags))
        if len(pending) >= batch:
            flush(pending)
            pending = []
            if progress:
                progress(counts)
    if pending:
        flush(pending)
    _reset_sequences([TrainingJob, StatusTransition, FinalMetric, JobTag])
    return counts


def _reset_sequences(models: list[Any]) -> None:
    """Explicit ids leave PostgreSQL's sequences behind; the next ORM insert would collide."""
    from django.core.management.color import no_style
    from django.db import connection

    statements = connection.ops.sequence_reset_sql(no_style(), models)
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def analyze() -> None:
    """Fresh planner statistics (and visibility map), as PostgreSQL's autovacuum would gather after a bulk load."""
    from django.db import connection

    with connection.cursor() as cursor:
        # VACUUM too on PostgreSQL: it sets the visibility map, without which
        # index-only scans fetch heap pages (autovacuum would do it in time).
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--running", type=int, default=500, help="the newest N jobs are still running")
    parser.add_argument("--days", type=float, default=180, help="history the jobs are spread over")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--db", default="bench.sqlite3", help="SQLite file under bench/results/ (no DATABASE_URL)")
    args = parser.parse_args(argv)

    url = _setup.setup(args.db, fresh=True)
    from django.db import connection
    from django.utils import timezone

    from jobs.models import Source

    print(f"generating {args.jobs:,} jobs into {connection.vendor} ({url.split('@')[-1]})")
    now = timezone.now()
    source = Source.objects.create(name="prod-us-east-1", region="us-east-1", account_id=ACCOUNT, last_success_at=now)
    Source.objects.create(name="research-eu-west-1", region="eu-west-1", account_id=ACCOUNT, last_success_at=now)
    generator = Generator(args.jobs, seed=args.seed, now=now, days=args.days, running=args.running)
    started = time.perf_counter()

    def progress(counts: dict[str, int]) -> None:
        if counts["jobs"] % 10_000 == 0:
            rate = counts["jobs"] / (time.perf_counter() - started)
            print(f"  {counts['jobs']:>7,} jobs  {counts['transitions']:>9,} transitions  ({rate:,.0f} jobs/s)")

    counts = bulk_store(source, generator.responses(), now=now, batch=args.batch, progress=progress)
    analyze()
    elapsed = time.perf_counter() - started
    print(
        f"done in {elapsed:.0f} s: {counts['jobs']:,} jobs, {counts['transitions']:,} transitions, "
        f"{counts['metrics']:,} metrics, {counts['tags']:,} tags"
    )
    _describe_population()
    return 0


def _describe_population() -> None:
    from django.db.models import Count

    from jobs.models import TrainingJob

    by_status = dict(TrainingJob.objects.values_list("status").annotate(n=Count("id")).order_by())
    tuned = TrainingJob.objects.exclude(tuning_job_arn="").count()
    signatures = TrainingJob.objects.exclude(failure_signature="").values("failure_signature").distinct().count()
    types = TrainingJob.objects.values("instance_type").distinct().count()
    print(f"  statuses {by_status}; {tuned:,} tuning-job trials; {signatures} failure signatures;", end=" ")
    print(f"{types} instance types")


if __name__ == "__main__":
    raise SystemExit(main())
