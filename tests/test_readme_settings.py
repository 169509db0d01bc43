"""Every setting the code reads from the environment is in the README's configuration table."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Where settings are read: the project, the apps, the simulator and the scripts.
READERS = ["dashboard", "jobs", "alerts", "simulator", "scripts"]
SETTING = re.compile(r"\bTRAINWATCH_[A-Z][A-Z0-9_]*[A-Z0-9]\b")


def settings_read() -> set[str]:
    names: set[str] = set()
    for folder in READERS:
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in {".py", ".sh", ""} and "migrations" not in path.parts:
                names |= set(SETTING.findall(path.read_text(errors="replace")))
    return names


def settings_documented() -> set[str]:
    table = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `")]
    names: set[str] = set()
    for row in table:
        first_cell = row.split("|")[1]
        # "`TRAINWATCH_SIMULATED_JOBS` / `_SEED`" documents TRAINWATCH_SIMULATED_SEED too.
        full = SETTING.findall(first_cell)
        names |= set(full)
        for short in re.findall(r"`(_[A-Z0-9_]+)`", first_cell):
            stem = full[0].rsplit("_", 1)[0] if full else ""
            names.add(stem + short)
    return names


def test_the_settings_read_are_all_documented():
    assert settings_read() - settings_documented() == set()


def test_the_check_sees_settings_on_both_sides():
    # Guards the test above against passing because it found nothing.
    assert {"TRAINWATCH_SYNC_INTERVAL", "TRAINWATCH_SIMULATED_SEED"} <= settings_read() & settings_documented()
