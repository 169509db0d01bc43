"""Point Django at a benchmark database and set it up.

Every benchmark runs against its own database so it never touches the
developer's ``trainwatch.sqlite3``: SQLite files under ``bench/results/``
unless ``DATABASE_URL`` names a PostgreSQL database.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"


def rss_mb() -> float:
    """This process's resident memory, in MiB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def sqlite_url(name: str) -> str:
    return f"sqlite:///{RESULTS / name}"


def database_url(default_sqlite: str = "bench.sqlite3") -> str:
    return os.environ.get("DATABASE_URL") or sqlite_url(default_sqlite)


def configure(default_sqlite: str = "bench.sqlite3", *, fresh: bool = False) -> str:
    """Set the environment before ``django.setup()``; returns the database URL."""
    RESULTS.mkdir(exist_ok=True)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    url = database_url(default_sqlite)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    # Production-like: templates cached, no debug toolbar of queries kept.
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production")
    if fresh and url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return url


def setup(default_sqlite: str = "bench.sqlite3", *, fresh: bool = False, migrate: bool = True) -> str:
    url = configure(default_sqlite, fresh=fresh)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if fresh and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    if migrate:
        call_command("migrate", verbosity=0)
    return url


def vendor() -> str:
    from django.db import connection

    return connection.vendor
