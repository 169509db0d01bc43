"""Alerts soak: every alert the simulated account's events call for reaches a webhook once.

    python bench/alerts_soak.py                        # 2,000 jobs, 30 simulated minutes of faults
    python bench/alerts_soak.py --sim-minutes 10       # a quicker look

What runs: bench/soak.py's peers (a private ``redis-server``, two Celery
workers and beat, the simulated account over HTTP with throttling, 5xx and
latency) plus a loopback JSON webhook receiver (tests/alert_receiver.py) as
the only alert channel (TRAINWATCH_ALERT_URLS). The first import is done
with the simulator's clock frozen and no faults, so what it sees is history.
Then the clock runs, the faults start, and the soak stops a share of the
running jobs through the account (the simulator also fails and overruns
jobs on its own). The receiver answers each post after a delay; while one
is open, the worker sending it is SIGKILLed (process group) and started
again, and later Redis is restarted on the same port. After the faults the
clock is frozen again and the soak waits for the deliveries to settle
(a killed send is claimed again after alerts.delivery.SENDING_TIMEOUT).

The truth is the simulator's own timelines after the first import: each
Failed, Stopped, MaxRuntimeExceeded or MaxWaitTimeExceeded, and each
restart (Interrupted or Restarting). Checked: every expected job event
received, none under two idempotency keys, none about a job event from
before the start; a key received more than once is a redelivery after the
kill (counted). Exit status 0 only when nothing is missing or extra.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from random import Random

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _setup
from bench.soak import Processes, free_port, queue_length, say, start_redis, start_worker, workers_answering
from bench.soak_truth import contract_breaking_malformations, mismatches

PY = sys.executable
JOB_KINDS = ("failed", "stopped", "max_runtime_exceeded", "restarted")
RESTARTS = ("Interrupted", "Restarting")


def expected_events(sim, after: float, until: float) -> set[tuple[str, str, str]]:
    """(kind, job, event) for every job event in (after, until], as the rules key them (restarts by time)."""
    acc = sim.account
    wanted: set[tuple[str, str, str]] = set()
    for i in range(acc.count(until)):
        plan, events = acc.events(i)
        for k, e in enumerate(events):
            if not after < e.start <= until:
                continue
            previous = events[k - 1].status if k else ""
            if e.status == "Failed":
                wanted.add(("failed", plan.name, "Failed"))
            elif (
                e.status == "Stopped"
                and previous == "Stopping"
                and not any(x.status in ("MaxRuntimeExceeded", "MaxWaitTimeExceeded") for x in events)
            ):
                wanted.add(("stopped", plan.name, "Stopped"))
            elif e.status in ("MaxRuntimeExceeded", "MaxWaitTimeExceeded"):
                wanted.add(("max_runtime_exceeded", plan.name, e.status))
            elif e.status in RESTARTS and previous not in RESTARTS:
                moment = datetime.fromtimestamp(e.start, UTC).replace(microsecond=(round(e.start * 1000) % 1000) * 1000)
                wanted.add(("restarted", plan.name, f"restart@{moment.isoformat()}"))
    return wanted


def history_events(sim, before: float) -> set[tuple[str, str]]:
    """(kind, job) of job events at or before the first import: none may alert."""
    acc = sim.account
    old: set[tuple[str, str]] = set()
    for i in range(acc.count(before)):
        plan, events = acc.events(i)
        for e in events:
            if e.start <= before and e.status in ("Failed", "Stopped", "MaxRuntimeExceeded", "MaxWaitTimeExceeded"):
                old.add(("failed" if e.status == "Failed" else "stopped", plan.name))
    return old


def sender_worker(procs: Processes, port: int) -> str | None:
    """The worker whose process holds a connection to the receiver now."""
    import psutil

    for name, proc in procs.procs.items():
        if not name.startswith("worker"):
            continue
        try:
            family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
            for p in family:
                if any(c.raddr and c.raddr.port == port for c in p.net_connections(kind="tcp")):
                    return name
        except psutil.Error:
            continue
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--speed", type=float, default=10.0, help="simulated seconds per real second")
    parser.add_argument("--sim-minutes", type=float, default=30.0, help="simulated minutes under faults")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--interval", type=int, default=5)
    parser.add_argument("--stop-share", type=float, default=0.5, help="share of the running jobs the soak stops")
    parser.add_argument("--receiver-delay", type=float, default=1.0, help="seconds the receiver holds each post")
    parser.add_argument("--throttle-rate", type=float, default=0.30)
    parser.add_argument("--server-error-rate", type=float, default=0.05)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--settle-timeout", type=float, default=600.0, help="real seconds")
    args = parser.parse_args(argv)

    from tests import alert_receiver

    receiver = alert_receiver.start()
    receiver.delay = args.receiver_delay
    run_dir = Path(tempfile.mkdtemp(prefix="trainwatch-alerts-soak-"))
    database_url = _setup.configure("alerts_soak.sqlite3", fresh=True)
    redis_port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "TRAINWATCH_SYNC_INTERVAL": str(args.interval),
        "TRAINWATCH_DESCRIBE_TIMEOUT_SECONDS": "30",
        "TRAINWATCH_DEFAULT_SOURCE": "1",
        "TRAINWATCH_EXTRA_SOURCES": "[]",
        "TRAINWATCH_CLOUDWATCH": "0",
        "TRAINWATCH_ALERT_URLS": receiver.url,
        "TRAINWATCH_ALERT_QUIET_SECONDS": "5",
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

    # Rules first (the migration creates them), then the account: every simulated time is after them.
    os.environ.update(env)
    _setup.setup("alerts_soak.sqlite3", fresh=True)
    sim = SimulatedSageMaker(jobs=args.jobs, seed=args.seed, speed=args.speed, filter_after_page=True)
    sim.clock.speed = 0
    with contract_breaking_malformations():
        sim.start()
        sim._server.handle_error = lambda request, address: None
        env["AWS_ENDPOINT_URL_SAGEMAKER"] = sim.endpoint_url
        os.environ.update(env)
        say(f"database {_setup.vendor()}; simulator {sim.endpoint_url}; receiver {receiver.url}; run dir {run_dir}")
        try:
            return soak(args, sim, procs, redis_port, run_dir, receiver, Faults)
        finally:
            procs.stop_all()
            sim.stop()
            receiver.close()
            shutil.rmtree(run_dir, ignore_errors=True)


def soak(args, sim, procs: Processes, redis_port: int, run_dir: Path, receiver, Faults) -> int:
    from jobs.models import Source

    began_all = time.monotonic()
    start_redis(procs, redis_port, run_dir)
    for n in range(1, args.workers + 1):
        start_worker(procs, n, args.concurrency)
    procs.start("beat", [PY, "-m", "celery", "-A", "dashboard", "beat", "-s", str(run_dir / "beat"), "-l", "WARNING"])

    # First import, clock frozen, no faults: all of it is history.
    while mismatches(sim, limit=1) or not Source.objects.filter(last_success_at__isnull=False).exists():
        time.sleep(2)
    time.sleep(2 * args.interval)
    first = sim.clock.timestamp()
    history_posts = len(receiver.posts)
    say(f"first import done in {time.monotonic() - began_all:.0f} s; posts so far {history_posts}")

    sim.faults = Faults(
        throttle_rate=args.throttle_rate, server_error_rate=args.server_error_rate, latency_ms=args.latency_ms
    )
    sim.clock.speed = 1
    fault_seconds = args.sim_minutes * 60 / args.speed
    began = time.monotonic()
    rng = Random(args.seed)
    running = [i for i in range(sim.account.count(first)) if sim.account.state(i, first).status == "InProgress"]
    to_stop = sorted(rng.sample(running, int(len(running) * args.stop_share)))
    stop_at = {i: began + rng.uniform(0.05, 0.9) * fault_seconds for i in to_stop}
    say(f"{len(running)} jobs running; the soak stops {len(to_stop)} of them over {fault_seconds:.0f} s")
    killed_worker: str | None = None
    kill_posts = 0
    restarted_redis = False
    loads = []
    while (elapsed := time.monotonic() - began) < fault_seconds:
        now = sim.clock.timestamp()
        for i, when in list(stop_at.items()):
            if time.monotonic() >= when:
                del stop_at[i]
                with contextlib.suppress(Exception):  # already finished: AWS refuses too
                    sim.account.stop(i, now)
        if killed_worker is None and elapsed >= fault_seconds / 4 and receiver.open:
            name = sender_worker(procs, receiver.server.server_port)
            if name is not None:
                kill_posts = len(receiver.posts)
                procs.kill(name)
                say(f"SIGKILL {name} while it had a post open at the receiver")
                killed_worker = name
                start_worker(procs, int(name.removeprefix("worker")), args.concurrency)
                say(f"{name} started again")
        if not restarted_redis and elapsed >= fault_seconds * 0.6:
            procs.kill("redis", signal.SIGKILL)
            start_redis(procs, redis_port, run_dir)
            say("Redis restarted on the same port")
            restarted_redis = True
        loads.append(os.getloadavg()[0])
        say(
            f"sim {sim.clock.now():%H:%M:%S} | posts {len(receiver.posts)} open {receiver.open} | "
            f"queue {queue_length(redis_port)}"
        )
        time.sleep(0.5 if killed_worker is None else 5)
    sim.faults = Faults()
    sim.clock.speed = 0
    until = sim.clock.timestamp()
    wanted = expected_events(sim, first, until)
    say(f"faults off, clock frozen; {len(wanted)} job events expected")

    def received() -> tuple[dict[tuple[str, str, str], set[str]], Counter, Counter]:
        by_event: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        per_key: Counter = Counter()
        kinds: Counter = Counter()
        for post in list(receiver.posts):
            key = post.headers.get("Idempotency-Key", "")
            per_key[key] += 1
            fields = post.body.get("trainwatch", {})
            kinds[fields.get("kind", "?")] += 1
            for job in fields.get("jobs", []):
                by_event[(fields.get("kind", "?"), job["name"], job["event"])].add(key)
        return by_event, per_key, kinds

    settled = time.monotonic()
    from alerts.models import Delivery, DeliveryStatus

    while time.monotonic() - settled < args.settle_timeout:
        by_event, _, _ = received()
        missing = {w for w in wanted if w not in by_event}
        unsent = Delivery.objects.exclude(status=DeliveryStatus.SENT).count()
        say(f"settling: {len(missing)} expected not received, {unsent} deliveries not sent")
        if not missing and not unsent:
            break
        time.sleep(10)
    time.sleep(2 * args.interval)

    by_event, per_key, kinds = received()
    job_events = {k: v for k, v in by_event.items() if k[0] in JOB_KINDS}
    missing = sorted(w for w in wanted if w not in by_event)
    extra = sorted(k for k in job_events if k not in wanted)
    twice = sorted(k for k, keys in job_events.items() if len(keys) > 1)
    redelivered = {k: n for k, n in per_key.items() if n > 1}
    old = history_events(sim, first)
    about_history = sorted(k for k in job_events if (k[0], k[1]) in old and k not in wanted)
    statuses = Counter(Delivery.objects.values_list("status", flat=True))
    print()
    print("=== alerts soak")
    print(f"jobs                    {len(sim.job_names())} (started with {args.jobs}); speed {args.speed:g}")
    print(f"simulated time          {(until - first) * args.speed / 60:.1f} simulated minutes under faults")
    print(f"workers                 {args.workers} x {args.concurrency}; answering ping: {workers_answering()}")
    print(
        f"killed                  {killed_worker or 'NO WORKER (no post open at the time)'}; Redis restarted: "
        f"{restarted_redis}"
    )
    print(f"posts received          {len(receiver.posts)} ({dict(kinds)}); {history_posts} during the first import")
    print(f"job events expected     {len(wanted)} ({dict(Counter(w[0] for w in wanted))})")
    print(f"job events received     {len(job_events)}")
    print(f"keys received twice+    {len(redelivered)} (posts {sum(redelivered.values())}; kill at post {kill_posts})")
    print(f"deliveries              {dict(statuses)}")
    print(f"load average            {min(loads):.1f}-{max(loads):.1f} during the faults")
    print(f"duration                {time.monotonic() - began_all:.0f} s")
    problems = [
        ("missing", missing),
        ("not in the truth", extra),
        ("under two keys", twice),
        ("about history", about_history),
    ]
    for label, items in problems:
        print(f"{label:24}{len(items)}")
        for item in items[:10]:
            print(f"  {item}")
    return 0 if not (missing or extra or twice or about_history) and history_posts == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
