"""--run-slow: tests marked slow (the soaks) are skipped unless it is given."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_marked_slow() -> None:
    """Only here to be run, or not, by the test below."""


def run_marked_slow(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{__file__}::test_marked_slow", *args],
        cwd=ROOT,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.stdout


def test_slow_tests_are_skipped_unless_asked_for() -> None:
    skipped = run_marked_slow("-rs")
    assert "1 skipped" in skipped
    assert "slow: run with --run-slow" in skipped
    assert "1 passed" in run_marked_slow("--run-slow")
