"""Page and API server times and SQL query counts on a generated database.

    python -m bench.generate                     # once: 100,000 jobs
    python -m bench.generate --jobs 2000 --db bench-small.sqlite3   # once: for query counts at 2k
    DATABASE_URL=postgres://postgres@127.0.0.1:5499/bench python -m bench.pages \
        --small-db postgres://postgres@127.0.0.1:5499/bench2k      # PostgreSQL, counted at 2k there too
    python -m bench.pages                        # test client + gunicorn on loopback
    python -m bench.pages --requests 100 --only html.newest,api.newest
    DATABASE_URL=postgres://postgres@127.0.0.1:5499/bench python -m bench.pages

Every case is timed twice: through Django's test client (in process: view,
middleware, templates; no HTTP) and through gunicorn on loopback (one sync
worker, DEBUG=0, measured at the client, so the loopback round trip is
included). Each gets warm-up requests, then ``--requests`` timed ones (p50,
p95). SQL queries are counted on one request; with ``--small-db`` (a file
under bench/results/, by default bench-small.sqlite3 when it exists and the
database is SQLite, or a database URL such as a small PostgreSQL one) they are
counted there too, to show the count does not grow with the number of jobs.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import _setup

WARMUP = 3


@dataclass
class Case:
    name: str
    path: str
    target_ms: float | None
    note: str = ""


def cases(detail_id: int) -> list[Case]:
    filters = [
        ("newest", "", 30.0, "50 newest"),
        ("by_status", "status=Failed", 50.0, "filtered by status"),
        ("tag", "tag=team=search", 50.0, "filtered by tag (1 in 6 jobs)"),
        ("tag_rare", "tag=cost-center=cc-1042", 50.0, "filtered by a rare tag (1 in 200 jobs)"),
        ("tag_status", "tag=team=search&status=Failed", 50.0, "filtered by a tag and a status (1 in 30 jobs)"),
        ("search", "q=hpo", 50.0, "name contains (tuning trials, 1 in 10 jobs)"),
        ("search_rare", "q=fraud-detector", 50.0, "name contains (1 in 30 jobs)"),
        ("sort_billable", "sort=-billable", 50.0, "sorted by billable time"),
        ("sort_metric", "metric=validation:accuracy&sort=-metric", 50.0, "sorted by validation:accuracy"),
        ("deep_page", "page=1000", 50.0, "page 1,000 (offset 49,950)"),
    ]
    out = []
    for key, query, target, note in filters:
        html_query = query
        api_query = query.replace("page=1000", "page=1000&page_size=50")
        out.append(Case(f"html.{key}", "/" + (f"?{html_query}" if html_query else ""), target, note))
        # The budget for an API list page, whatever its filter.
        out.append(Case(f"api.{key}", "/api/jobs/" + (f"?{api_query}" if api_query else ""), 30.0, note))
    out += [
        Case("api.export", "/api/jobs/?page_size=1000", 200.0, "1,000 rows in one request: the API's max page_size"),
        Case("html.detail", f"/jobs/{detail_id}/", 30.0, "a job with 50 transitions"),
        Case("api.detail", f"/api/jobs/{detail_id}/", 30.0, "a job with 50 transitions"),
        Case("html.failures", "/failures/", 60.0, "failed jobs grouped by signature"),
        Case("html.status", "/status/", 60.0, "team status board"),
        Case("html.costs", f"/costs/?by=month&group=tag:team&{_last_month()}", 200.0, "a month's spend by team"),
        Case("html.costs_daily", "/costs/", 200.0, "the default: 30 days per day by team"),
        Case("api.status", "/api/status/", 60.0, "status figures as JSON"),
    ]
    return out


def _last_month() -> str:
    """The 30 days up to today (local time), as /costs/ takes them."""
    from datetime import timedelta

    from django.utils import timezone

    today = timezone.localdate()
    return f"from={(today - timedelta(days=29)).isoformat()}&to={today.isoformat()}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    log = open(_setup.RESULTS / "gunicorn.log", "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "dashboard.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            "sync",
            "--timeout",
            "120",
        ],
        cwd=_setup.ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    import requests

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            requests.get(base + "/accounts/login/", timeout=30)
            return proc, base
        except requests.RequestException:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    proc.kill()
    proc.wait()
    raise SystemExit(f"gunicorn did not start; see {_setup.RESULTS / 'gunicorn.log'}")


def timed(fetch: Any, path: str, n: int, cpu: list[float] | None = None) -> tuple[list[float], int, int]:
    """(milliseconds per request, last status, last body size); this process's CPU ms go to ``cpu``.

    CPU time is the figure to read on a shared machine: wall time there
    includes waiting for a core. In process (the test client, SQLite) it
    covers the whole request; PostgreSQL's own work is not in it.
    """
    status, size = 0, 0
    for _ in range(WARMUP):
        fetch(path)
    times = []
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.process_time()
        status, size = fetch(path)
        times.append((time.perf_counter() - t0) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - c0) * 1000)
    return times, status, size


def count_queries(client: Any, path: str) -> tuple[int, list[str]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


def detail_job_id() -> int:
    from jobs.models import StatusTransition

    with_50 = StatusTransition.objects.filter(position=49).values_list("job_id", flat=True)
    longer = StatusTransition.objects.filter(position=50).values_list("job_id", flat=True)
    job_id = with_50.exclude(job_id__in=longer).order_by("-job_id").first()
    if job_id is None:
        raise SystemExit("no job with exactly 50 transitions: run python -m bench.generate first")
    return job_id


def login_client() -> Any:
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    return client


def small_db_counts(url: str, paths: dict[str, str]) -> dict[str, int]:
    """Query counts on a small database, in a child process (Django binds one database per process)."""
    code = (
        "import json, sys\n"
        "from bench import _setup\n"
        "_setup.setup(sys.argv[1])\n"
        "from bench.pages import count_queries, detail_job_id, login_client\n"
        "paths = json.loads(sys.argv[2])\n"
        "client = login_client()\n"
        "detail = detail_job_id()\n"
        # 2,000 jobs have 40 pages: the deep page there is page 20.
        "out = {k: count_queries(client, p.replace('{detail}', str(detail)).replace('page=1000', 'page=20'))[0]\n"
        "       for k, p in paths.items()}\n"
        "print(json.dumps(out))\n"
    )
    import json

    env = {**os.environ, "DATABASE_URL": url}
    result = subprocess.run(
        [sys.executable, "-c", code, "unused.sqlite3", json.dumps(paths)],
        cwd=_setup.ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        print(result.stderr[-2000:])
        return {}
    return json.loads(result.stdout.strip().splitlines()[-1])


def explain(case: Case, queries: list[str]) -> None:
    """Each captured query again, timed, with its plan (captured SQL has its parameters inlined)."""
    from django.db import connection

    print(f"== {case.name}  {case.path}")
    prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
    with connection.cursor() as cursor:
        for sql in queries:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            t0 = time.perf_counter()
            cursor.execute(sql)
            cursor.fetchall()
            ms = (time.perf_counter() - t0) * 1000
            if ms < 2:
                continue
            print(f"  {ms:8.1f} ms  {sql[:2000]}")
            cursor.execute(prefix + sql)
            for row in cursor.fetchall():
                print("              ", " ".join(str(c) for c in row[-1:]) if connection.vendor == "sqlite" else row[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--db", default="bench.sqlite3")
    parser.add_argument(
        "--small-db", default="bench-small.sqlite3", help="file under bench/results/, or a database URL"
    )
    parser.add_argument("--only", default="", help="comma-separated case names")
    parser.add_argument("--no-http", action="store_true", help="test client only")
    parser.add_argument("--explain", action="store_true", help="print each query's time and plan, then stop")
    parser.add_argument("--output")
    args = parser.parse_args(argv)

    os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
    url = _setup.setup(args.db)
    from django.db import connection

    from bench.report import Summary, percentile
    from jobs import api
    from jobs.models import TrainingJob

    jobs = TrainingJob.objects.count()
    detail = detail_job_id()
    api_max = api.JobPagination.max_page_size
    selected = cases(detail)
    if args.only:
        wanted = set(args.only.split(","))
        selected = [c for c in selected if c.name in wanted]
    client = login_client()
    print(f"{jobs:,} jobs on {connection.vendor}; {len(selected)} cases x {args.requests} requests")

    summary = Summary("pages", meta={"jobs": jobs, "requests": args.requests, "api_max_page_size": api_max})
    counts: dict[str, int] = {}
    for case in selected:
        n, sql = count_queries(client, case.path)
        counts[case.name] = n
        if args.explain:
            explain(case, sql)
    if args.explain:
        return 0

    small: dict[str, int] = {}
    small_url = None
    if "://" in args.small_db:
        small_url = args.small_db
    elif connection.vendor == "sqlite" and (_setup.RESULTS / args.small_db).exists():
        small_url = _setup.sqlite_url(args.small_db)
    if small_url:
        small = small_db_counts(small_url, {c.name: c.path.replace(str(detail), "{detail}") for c in selected})

    def client_fetch(path: str) -> tuple[int, int]:
        response = client.get(path)
        return response.status_code, len(response.content)

    server = None
    http_fetch = None
    if not args.no_http:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DEBUG": "0",
            "SECRET_KEY": os.environ["SECRET_KEY"],
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
        }
        server, base = start_gunicorn(env)
        import requests

        session = requests.Session()
        session.cookies.set("sessionid", client.cookies["sessionid"].value, domain="127.0.0.1")

        def http_fetch(path: str) -> tuple[int, int]:
            response = session.get(base + path, timeout=60, allow_redirects=False)
            return response.status_code, len(response.content)

    try:
        header = f"{'case':<20} {'queries':>7} {'@small':>6} {'client p50':>10} {'p95':>7} {'cpu p50':>7}"
        header += "" if args.no_http else f" {'http p50':>9} {'p95':>7}"
        print(header + f" {'target':>7}  {'KB':>6}")
        for case in selected:
            cpu: list[float] = []
            times, status, size = timed(client_fetch, case.path, args.requests, cpu)
            assert status == 200, (case.path, status)
            c50, c95, cpu50 = percentile(times, 50), percentile(times, 95), percentile(cpu, 50)
            h50 = h95 = None
            if http_fetch is not None:
                htimes, hstatus, size = timed(http_fetch, case.path, args.requests)
                assert hstatus == 200, (case.path, hstatus)
                h50, h95 = percentile(htimes, 50), percentile(htimes, 95)
            line = f"{case.name:<20} {counts[case.name]:>7} {small.get(case.name, ''):>6} {c50:>10.1f} {c95:>7.1f}"
            line += f" {cpu50:>7.1f}"
            if h50 is not None:
                line += f" {h50:>9.1f} {h95:>7.1f}"
            print(line + f" {case.target_ms or '':>7}  {size / 1024:>6.0f}")
            summary.add(f"pages.{case.name}.client_p50_ms", c50, "ms", target=case.target_ms, note=case.note)
            summary.add(f"pages.{case.name}.client_p95_ms", c95, "ms")
            summary.add(
                f"pages.{case.name}.client_cpu_p50_ms",
                cpu50,
                "ms",
                target=case.target_ms,
                note="CPU time of the test-client request in this process",
            )
            if h50 is not None:
                summary.add(f"pages.{case.name}.http_p50_ms", h50, "ms", target=case.target_ms, note=case.note)
                summary.add(f"pages.{case.name}.http_p95_ms", h95, "ms")
            note = f"{small[case.name]} at the small database" if case.name in small else ""
            target = float(small[case.name]) if case.name in small else None
            summary.add(f"pages.{case.name}.queries", counts[case.name], "queries", target=target, note=note)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
    print()
    failed = [r for r in summary.results if r.ok is False]
    print(f"{len(failed)} of {sum(1 for r in summary.results if r.target is not None)} targets missed")
    for r in failed:
        print(f"  {r.name}: {r.value:.1f} {r.unit} (target {r.target:g})")
    path = summary.write(Path(args.output) if args.output else None)
    print(f"\nsummary: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
