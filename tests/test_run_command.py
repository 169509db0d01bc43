"""The README's run command: everything starts, jobs arrive, Ctrl-C stops it all."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def job_count(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("select count(*) from jobs_trainingjob where described_at is not null").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.skipif("postgres" in os.environ.get("DATABASE_URL", ""), reason="runs once, on the SQLite pass")
def test_run_command_serves_simulated_jobs_and_stops_cleanly(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = tmp_path / "run.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in {"REDIS_URL", "DATABASE_URL"}}
    env.update(
        DATABASE_URL=f"sqlite:///{db}",
        PORT=str(port),
        TRAINWATCH_SIMULATE="1",
        # A fresh environment from requirements.txt alone, as on a new machine:
        # the dev environment's extras once hid a missing runtime dependency.
        TRAINWATCH_VENV=str(tmp_path / "venv"),
        TRAINWATCH_ADMIN_PASSWORD="run-test-password",
    )
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "run")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # As a shell starts a command in the background: SIGINT ignored. Ctrl-C must still stop it all.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    started = time.monotonic()
    try:
        deadline = started + 300  # installing, then two minutes for jobs to arrive
        while job_count(db) < 50 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(1)
        assert proc.poll() is None, "the run command exited early"
        assert job_count(db) >= 50, "no simulated jobs reached the database in time"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=10) as page:
            assert page.status == 200
        spawned = descendants(proc.pid)
        assert len(spawned) >= 5  # redis, simulator, worker, beat, web
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert f"running at http://127.0.0.1:{port}/" in output
    assert "Created admin user 'admin'" in output
    time.sleep(0.5)
    assert [pid for pid in spawned if alive(pid)] == []
