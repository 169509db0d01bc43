#!/usr/bin/env python
"""Take a PNG of each page with Chromium, into docs/screenshots/.

Against a running server:

    python scripts/screenshots.py --url http://127.0.0.1:8000 --username me --password secret

Self-contained (default): a throwaway SQLite database filled by one sync
cycle from the simulated SageMaker account, a runserver on a free port, a
demo user; everything is removed afterwards.

    python scripts/screenshots.py [--jobs 300] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VIEWPORT = {"width": 1360, "height": 860}
MAX_BYTES = 300_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"server at {url} did not come up")


def fill_database(db_path: Path, jobs: int) -> tuple[str, str]:
    """Migrate a fresh database, sync it once from the simulator, add a demo user."""
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    for key, value in {
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(key, value)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.utils import timezone

    from jobs import sync
    from jobs.models import Source
    from simulator import SimulatedSageMaker

    call_command("migrate", verbosity=0)
    with SimulatedSageMaker(jobs=jobs, seed=11, speed=0.0) as sim:
        source = Source.objects.create(name="sim-us-east-1", region="us-east-1", endpoint_url=sim.endpoint_url)
        sync.run_cycle(source)
    now = timezone.now()
    Source.objects.filter(pk=source.pk).update(last_success_at=now, last_error="")
    Source.objects.create(
        name="prod-eu-west-1", region="eu-west-1", last_success_at=now - timezone.timedelta(minutes=9)
    )
    password = "demo-password-123"
    User.objects.create_superuser("demo", "demo@example.org", password)
    return "demo", password


def shoot(base: str, username: str, password: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for scheme in ("light", "dark"):
            context = browser.new_context(base_url=base, viewport=VIEWPORT, color_scheme=scheme)
            page = context.new_page()
            page.goto("/accounts/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", password)
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r".*/$"))
            shots = {"status": "/status/"}
            if scheme == "light":
                page.goto("/failures/")
                first_failed = page.locator(".examples a").first.get_attribute("href")
                page.goto("/?status=Failed")
                shots = {
                    "jobs": "/?metric=validation:accuracy",
                    "job-detail": first_failed or "/",
                    "failures": "/failures/",
                    "costs": "/costs/",
                    "status": "/status/",
                    "admin-jobs": "/admin/jobs/trainingjob/",
                }
                # Three finished jobs of one family side by side, and a tuning job's page.
                page.goto("/?status=Completed&q=hpo")
                links = page.locator("tbody tr td.name a:first-child")
                ids = [
                    href.strip("/").split("/")[-1]
                    for href in links.evaluate_all("els => els.map(e => e.getAttribute('href'))")[:3]
                ]
                if len(ids) >= 2:
                    shots["compare"] = "/compare/?ids=" + ",".join(ids)
                    page.goto(f"/jobs/{ids[0]}/")
                    tuning = page.locator("a[href^='/tuning/']").first
                    if tuning.count():
                        shots["tuning"] = tuning.get_attribute("href")
                # The oldest job on the first page of those training now: the longest curves.
                page.goto("/?status=InProgress&secondary_status=Training")
                running = page.locator("tr[data-running]")
                if not running.count():
                    page.goto("/")
                    running = page.locator("tr[data-running]")
                if running.count():
                    # The row's first link is the job; the others are its tags.
                    shots["job-detail-running"] = running.last.locator("td.name a").first.get_attribute("href")
            for name, path in shots.items():
                page.goto(path)
                page.wait_for_load_state("networkidle")
                target = out / f"{name}{'-dark' if scheme == 'dark' else ''}.png"
                page.screenshot(
                    path=str(target), full_page=name.startswith("job-detail") or name in ("compare", "tuning")
                )
                if target.stat().st_size > MAX_BYTES:
                    page.screenshot(path=str(target))  # the viewport only
                written.append(target)
                cloudwatch = page.locator("#cloudwatch")
                if name.startswith("job-detail") and cloudwatch.count():
                    # The curves, utilization and log tails alone: the full page may be cut to the viewport.
                    panel = out / f"{name.replace('job-detail', 'job-cloudwatch')}.png"
                    cloudwatch.screenshot(path=str(panel))
                    written.append(panel)
            context.close()
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running Trainwatch; omit to start a throwaway one")
    parser.add_argument("--username")
    parser.add_argument("--password")
    parser.add_argument("--jobs", type=int, default=300, help="simulated jobs (self-contained mode)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()

    if args.url:
        if not (args.username and args.password):
            parser.error("--url needs --username and --password")
        written = shoot(args.url.rstrip("/"), args.username, args.password, args.out)
    else:
        with tempfile.TemporaryDirectory(prefix="trainwatch-shots-") as tmp:
            db_path = Path(tmp) / "db.sqlite3"
            username, password = fill_database(db_path, args.jobs)
            port = _free_port()
            env = {**os.environ, "DATABASE_URL": f"sqlite:///{db_path}", "DEBUG": "True"}
            server = subprocess.Popen(
                [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                _wait_for(f"http://127.0.0.1:{port}/accounts/login/")
                written = shoot(f"http://127.0.0.1:{port}", username, password, args.out)
            finally:
                server.terminate()
                server.wait(timeout=10)
    for path in written:
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
