"""The README's run command: everything starts, jobs arrive, Ctrl-C stops it all."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
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
        assert len(spawned) >= 6  # redis, simulator, worker, beat, events consumer, web
        with sqlite3.connect(db, timeout=5) as conn:
            (queue,) = conn.execute("select events_queue_url from jobs_source where name = 'default'").fetchone()
        assert queue.endswith("/123456789012/trainwatch-events")  # the consumer follows the simulator's queue
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert f"running at http://127.0.0.1:{port}/" in output
    assert "Created admin user 'admin'" in output
    # The simulated account is kept next to the database, so the next run continues it.
    assert (tmp_path / "run.sqlite3.simulated-account.json").exists(), output
    # The launcher waits for its children; their own children may take a moment more.
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in spawned) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in spawned if alive(pid)] == []


def start_up(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run an entry point with ``env`` on top of a clean environment; it is expected to stop by itself."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TRAINWATCH_"))}
    base.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", TRAINWATCH_SIMULATE="1")
    base.update(env)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120, check=False
    )


def launch(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return start_up(tmp_path, "-m", "dashboard.launcher", **env)


@pytest.mark.parametrize("value", ["abc", "0", "70000", ""])
def test_a_bad_port_is_named(tmp_path, value):
    result = launch(tmp_path, PORT=value)
    assert result.stderr.splitlines() == [f"trainwatch: PORT={value!r} is not a port number (1-65535)"]
    assert result.returncode == 78
    assert "Redis on" not in result.stdout  # nothing was started
    assert "running at" not in result.stdout


def test_a_port_in_use_is_reported_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = launch(tmp_path, PORT=str(port))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"trainwatch: PORT={port}: 127.0.0.1:{port} is already in use")
    assert "running at" not in result.stdout
    assert not (tmp_path / "db.sqlite3").exists()  # reported before migrating


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TRAINWATCH_SYNC_INTERVAL", "abc", "TRAINWATCH_SYNC_INTERVAL='abc' is not a whole number"),
        ("TRAINWATCH_SEARCH", "maybe", "TRAINWATCH_SEARCH='maybe' is not a boolean"),
        ("TRAINWATCH_EXTRA_SOURCES", "[{", "TRAINWATCH_EXTRA_SOURCES is not valid JSON"),
        ("DATABASE_URL", "nosuchdb://admin:hunter2@db.internal/trainwatch", "DATABASE_URL is not a database URL"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(tmp_path, name, value, message):
    result = launch(tmp_path, PORT=str(free_port()), **{name: value})
    assert result.returncode == 78
    [line] = result.stderr.splitlines()
    assert line.startswith(f"trainwatch: bad setting: {message}")
    assert "hunter2" not in result.stderr  # a database URL's password is never echoed
    assert "running at" not in result.stdout


@pytest.mark.parametrize(
    "entry",
    [
        ("manage.py", "check"),
        ("-m", "celery", "-A", "dashboard", "worker"),
        ("-m", "celery", "-A", "dashboard", "beat"),
    ],
    ids=["manage.py", "celery worker", "celery beat"],
)
def test_every_entry_point_reports_a_bad_setting_in_one_line(tmp_path, entry):
    result = start_up(tmp_path, *entry, TRAINWATCH_SYNC_INTERVAL="3")
    assert result.stderr.splitlines() == ["trainwatch: bad setting: TRAINWATCH_SYNC_INTERVAL=3 must be at least 5"]
    assert result.returncode == 78


def test_waiting_for_the_web_server_stops_when_it_exits():
    from dashboard.launcher import StartupError, wait_for_port

    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(StartupError, match="the web server exited with code 3 before listening on port"):
        wait_for_port(free_port(), timeout=60, proc=proc, name="the web server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_simulated_account_is_kept_next_to_its_database(tmp_path):
    from dashboard.launcher import ROOT as root
    from dashboard.launcher import simulated_state_path

    db = tmp_path / "a.sqlite3"
    assert simulated_state_path({"DATABASE_URL": f"sqlite:///{db}"}) == Path(f"{db}.simulated-account.json")
    assert simulated_state_path({}) == root / "trainwatch.sqlite3.simulated-account.json"
    one = simulated_state_path({"DATABASE_URL": "postgres://u:pw@db.example:5432/one"})
    other = simulated_state_path({"DATABASE_URL": "postgres://u:pw@db.example:5432/other"})
    assert one.parent == root / ".run" and one != other and "pw" not in str(one)
    chosen = tmp_path / "state.json"
    assert simulated_state_path({"TRAINWATCH_SIMULATED_STATE": str(chosen), "DATABASE_URL": "x"}) == chosen
