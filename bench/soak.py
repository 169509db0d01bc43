"""Fault soak: the real sync, under faults, follows a simulated account to the truth.

    python bench/soak.py                       # 5,000 jobs, 30 simulated minutes of faults
    python bench/soak.py --jobs 500 --sim-minutes 10   # a quicker look

What runs: a private ``redis-server`` on a free loopback port, two Celery
workers (``python -m celery -A dashboard worker``, real processes) and beat,
all pointed at a simulated SageMaker account served from this process over
HTTP, with 30% throttling, 5% server errors, 200 ms added latency and 1%
malformed DescribeTrainingJob bodies. Midway one worker is killed with
SIGKILL (its whole process group, children included) and Redis is restarted on
the same port, losing every queued and unacknowledged task. Then the faults
stop and the simulator is frozen; the soak measures how long the database
takes to match the truth, waits for two more clean cycles and compares again.

The database is a fresh SQLite file under bench/results/ unless DATABASE_URL
names a PostgreSQL database (its public schema is dropped and recreated).
Exit status 0 only when the final mismatch count is zero.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _setup
from bench.soak_truth import contract_breaking_malformations, mismatches

PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Processes:
    """Children in their own process groups, so a kill reaches their children too."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            args, cwd=_setup.ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = proc
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)


def start_redis(procs: Processes, port: int, workdir: Path) -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found (apt-get install redis-server)")
    procs.start(
        "redis",
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(workdir)],
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    for _ in range(100):
        try:
            client.ping()
            return
        except redis.ConnectionError:
            time.sleep(0.1)
    raise SystemExit(f"redis-server did not answer on port {port}")


def queue_length(port: int) -> int | str:
    import redis

    try:
        return int(redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1).llen("celery"))
    except redis.RedisError:
        return "down"


def progress_line(sim, redis_port: int) -> str:
    from jobs.models import SyncCycle, SyncError, TrainingJob

    stats = sim.stats
    return (
        f"sim {sim.clock.now():%H:%M:%S} | jobs {TrainingJob.objects.count()}/{len(sim.job_names())} "
        f"described {TrainingJob.objects.filter(described_at__isnull=False).count()} | "
        f"cycles {SyncCycle.objects.count()} | queue {queue_length(redis_port)} | "
        f"requests {stats['requests']} faults {sum(stats['faults'].values())} | "
        f"sync errors {SyncError.objects.count()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--speed", type=float, default=5.0, help="simulated seconds per real second")
    parser.add_argument("--sim-minutes", type=float, default=30.0, help="simulated minutes under faults")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8, help="processes per worker")
    parser.add_argument("--interval", type=int, default=5, help="TRAINWATCH_SYNC_INTERVAL (min 5)")
    parser.add_argument(
        "--describe-timeout",
        type=int,
        default=60,
        help="TRAINWATCH_DESCRIBE_TIMEOUT_SECONDS (min 30): when a queued describe counts as lost",
    )
    parser.add_argument("--throttle-rate", type=float, default=0.30)
    parser.add_argument("--server-error-rate", type=float, default=0.05)
    parser.add_argument("--malformed-rate", type=float, default=0.01)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--converge-timeout", type=float, default=900.0, help="real seconds")
    parser.add_argument("--keep-logs", action="store_true", help="keep the run directory with worker logs")
    args = parser.parse_args(argv)

    run_dir = Path(tempfile.mkdtemp(prefix="trainwatch-soak-"))
    database_url = _setup.configure("soak.sqlite3", fresh=True)
    redis_port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "TRAINWATCH_SYNC_INTERVAL": str(args.interval),
        "TRAINWATCH_DESCRIBE_TIMEOUT_SECONDS": str(args.describe_timeout),
        "TRAINWATCH_LOOKBACK_DAYS": "30",
        "TRAINWATCH_DEFAULT_SOURCE": "1",
        "TRAINWATCH_EXTRA_SOURCES": "[]",
        "AWS_ACCESS_KEY_ID": "soak",
        "AWS_SECRET_ACCESS_KEY": "soak",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    procs = Processes(env, run_dir)

    from simulator import Faults, SimulatedSageMaker

    faults = Faults(
        throttle_rate=args.throttle_rate,
        server_error_rate=args.server_error_rate,
        malformed_rate=args.malformed_rate,
        latency_ms=args.latency_ms,
    )
    sim = SimulatedSageMaker(jobs=args.jobs, seed=args.seed, speed=args.speed, faults=faults, filter_after_page=True)
    with contract_breaking_malformations():
        sim.start()
        # A killed worker's connections reset mid-request; that is the point, not news.
        sim._server.handle_error = lambda request, address: None
        env["AWS_ENDPOINT_URL_SAGEMAKER"] = sim.endpoint_url
        os.environ.update(env)
        _setup.setup("soak.sqlite3", fresh=True)
        say(f"database {_setup.vendor()} ({database_url}); simulator {sim.endpoint_url}; run dir {run_dir}")
        try:
            return soak(args, sim, procs, redis_port, run_dir)
        finally:
            procs.stop_all()
            sim.stop()
            if args.keep_logs:
                say(f"logs kept in {run_dir}")
            else:
                shutil.rmtree(run_dir, ignore_errors=True)


def start_worker(procs: Processes, n: int, concurrency: int) -> None:
    procs.start(
        f"worker{n}",
        [PY, "-m", "celery", "-A", "dashboard", "worker", "-n", f"soak{n}@%h", "-c", str(concurrency), "-l", "WARNING"],
    )


def workers_answering() -> int:
    from dashboard.celery import app

    return len(app.control.ping(timeout=2.0) or [])


def soak(args: argparse.Namespace, sim, procs: Processes, redis_port: int, run_dir: Path) -> int:
    from jobs.models import SyncCycle, SyncError

    start_redis(procs, redis_port, run_dir)
    for n in range(1, args.workers + 1):
        start_worker(procs, n, args.concurrency)
    procs.start("beat", [PY, "-m", "celery", "-A", "dashboard", "beat", "-s", str(run_dir / "beat"), "-l", "WARNING"])

    fault_seconds = args.sim_minutes * 60 / args.speed
    sim_started = sim.clock.now()
    began = time.monotonic()
    say(
        f"faults on for {fault_seconds:.0f} s real = {args.sim_minutes:g} simulated minutes: "
        f"throttle {args.throttle_rate:.0%}, 5xx {args.server_error_rate:.0%}, "
        f"malformed {args.malformed_rate:.0%}, latency {args.latency_ms:g} ms; {args.jobs} jobs at start"
    )
    killed = restarted = False
    while (elapsed := time.monotonic() - began) < fault_seconds:
        if not killed and elapsed >= fault_seconds / 2:
            procs.kill("worker1")
            say("SIGKILL worker1 (process group)")
            killed = True
        if killed and not restarted and elapsed >= fault_seconds / 2 + 5:
            procs.kill("redis", signal.SIGKILL)
            start_redis(procs, redis_port, run_dir)
            say("Redis restarted on the same port (queue and unacked tasks lost)")
            start_worker(procs, 1, args.concurrency)
            say("worker1 started again")
            restarted = True
        say(progress_line(sim, redis_port))
        time.sleep(min(10.0, max(0.5, fault_seconds - elapsed)))

    stats_at_stop = sim.stats
    sim.faults = type(sim.faults)()
    sim.clock.speed = 0
    stopped = time.monotonic()
    frozen_at = sim.clock.now()
    say(f"faults off; simulator frozen at {frozen_at:%Y-%m-%d %H:%M:%S} ({frozen_at - sim_started} simulated)")

    converged_after: float | None = None
    remaining: list[str] = []
    while time.monotonic() - stopped < args.converge_timeout:
        remaining = mismatches(sim)
        say(f"{len(remaining)} mismatches | {progress_line(sim, redis_port)}")
        if not remaining:
            converged_after = time.monotonic() - stopped
            break
        time.sleep(5)

    # Two more whole cycles that start after convergence, then the final word.
    mark = SyncCycle.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    deadline = time.monotonic() + max(60.0, args.interval * 8)
    while time.monotonic() < deadline:
        if SyncCycle.objects.filter(pk__gt=mark, finished_at__isnull=False).count() >= 2:
            break
        time.sleep(1)
    time.sleep(3)  # let the last cycle's describes land
    final = mismatches(sim)

    stats = sim.stats
    fault_counts: Counter = stats_at_stop["faults"]
    errors_by_kind = Counter(SyncError.objects.values_list("kind", flat=True))
    print()
    print("=== fault soak")
    print(f"jobs in the account     {len(sim.job_names())} (started with {args.jobs})")
    print(f"simulated time          {frozen_at - sim_started} under faults, speed {args.speed:g}")
    print(
        f"workers                 {args.workers} x {args.concurrency} processes; sync interval {args.interval} s; "
        f"describe timeout {args.describe_timeout} s; answering ping: {workers_answering()}"
    )
    print(f"requests                {stats['requests']} ({dict(stats['calls'])})")
    print(f"faults survived         {sum(fault_counts.values())} ({dict(fault_counts)})")
    print(f"sync errors recorded    {sum(errors_by_kind.values())} ({dict(errors_by_kind)})")
    print(f"sync cycles             {SyncCycle.objects.count()}")
    if converged_after is None:
        print(f"convergence             NOT within {args.converge_timeout:.0f} s")
        for line in remaining[:20]:
            print(f"  {line}")
    else:
        print(f"convergence             {converged_after:.1f} s after the faults stopped")
    print(f"mismatches              {len(final)}")
    for line in final[:20]:
        print(f"  {line}")
    return 0 if not final else 1


if __name__ == "__main__":
    raise SystemExit(main())
