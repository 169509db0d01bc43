"""What makes a simulated account the same account across restarts: a small JSON file.

The population is a pure function of (seed, jobs, epoch, pace changes) and
the time, so keeping those four lets a second run on the same database
continue the first one's history: the same jobs, by name and ARN, in the
states real time has brought them to since. The run command keeps the file
next to its database. Example::

    {"version": 1, "seed": 1, "jobs": 1000, "epoch": 1764670000.0, "pace": [[1764670000.0, 30.0]]}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERSION = 1


class StateError(Exception):
    """The state file exists but cannot be used; nothing was overwritten."""


@dataclass(frozen=True)
class AccountState:
    seed: int
    jobs: int
    epoch: float
    pace: tuple[tuple[float, float], ...] = field(default=())

    @property
    def speed(self) -> float:
        return self.pace[-1][1] if self.pace else 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "seed": self.seed,
            "jobs": self.jobs,
            "epoch": self.epoch,
            "pace": [list(change) for change in self.pace],
        }


def _parse(path: Path, text: str) -> AccountState:
    try:
        data = json.loads(text)
        if data.get("version") != VERSION:
            raise ValueError(f"version {data.get('version')!r}, expected {VERSION}")
        pace = tuple((float(at), float(speed)) for at, speed in data["pace"])
        state = AccountState(int(data["seed"]), int(data["jobs"]), float(data["epoch"]), pace)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise StateError(
            f"the simulated account's state file {path} is unreadable ({exc}); "
            "delete it to start a new simulated account"
        ) from None
    if any(at < state.epoch or speed < 1 for at, speed in pace) or list(pace) != sorted(pace):
        raise StateError(f"the simulated account's state file {path} has inconsistent pace changes; delete it")
    return state


def _write(path: Path, state: AccountState) -> None:
    # Write and rename, so a crash never leaves half a file behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(state.to_json()) + "\n")
    os.replace(tmp, path)


def resume(path: Path, *, seed: int, jobs: int, speed: float, now: float) -> tuple[AccountState, str]:
    """The account to serve at real time ``now``, and a line saying what happened.

    A new file starts a new account whose epoch is ``now``. An existing one
    is continued; a new ``speed`` takes effect from ``now`` on, leaving the
    history as it was. Another seed or size is another account: it replaces
    the file, and the line says so. ``speed`` 0 (a frozen clock) keeps the
    pace as it was.
    """
    wanted = (now, speed) if speed >= 1 and speed != 1 else None
    if not path.exists():
        state = AccountState(seed, jobs, now, (wanted,) if wanted else ())
        _write(path, state)
        return state, f"new simulated account (state in {path})"
    old = _parse(path, path.read_text())
    if (old.seed, old.jobs) != (seed, jobs):
        state = AccountState(seed, jobs, now, (wanted,) if wanted else ())
        _write(path, state)
        return state, (
            f"seed/size changed from {old.seed}/{old.jobs} to {seed}/{jobs}: new simulated account (state in {path})"
        )
    state = old
    if speed >= 1 and speed != old.speed and now > (old.pace[-1][0] if old.pace else old.epoch):
        state = AccountState(old.seed, old.jobs, old.epoch, (*old.pace, (now, float(speed))))
        _write(path, state)
    return state, f"continuing the simulated account of {path}"
