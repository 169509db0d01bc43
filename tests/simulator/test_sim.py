"""The public SimulatedSageMaker API, determinism, CLI wiring, and independence from Django."""

import subprocess
import sys
from typing import Any

from simulator import Faults, SimulatedSageMaker
from simulator.cli import add_arguments, build

from .conftest import START, client_for


def test_same_seed_same_account_different_seed_different() -> None:
    a, b, c = (SimulatedSageMaker(jobs=150, seed=s, speed=0, start=START) for s in (4, 4, 5))
    assert a.job_names() == b.job_names()
    assert [a.describe(n) for n in a.job_names()] == [b.describe(n) for n in b.job_names()]
    assert a.job_names() != c.job_names()
    for sim in (a, b):
        sim.clock.advance(7200)
    assert [a.describe(n) for n in a.job_names()] == [b.describe(n) for n in b.job_names()]


def test_context_manager_and_endpoint() -> None:
    with SimulatedSageMaker(jobs=10, seed=1, start=START, faults=Faults(latency_ms=1)) as sim:
        assert sim.endpoint_url.startswith("http://127.0.0.1:") and sim.port > 0
        assert len(client_for(sim).list_training_jobs()["TrainingJobSummaries"]) == 10
    sim.stop()  # stopping twice is harmless


def test_population_grows_with_simulated_time(sim: Any) -> None:
    before = sim.job_names()
    sim.clock.advance(3 * 86400)
    after = sim.job_names()
    assert after[: len(before)] == before and len(after) > len(before)
    assert sim.describe(after[-1])["TrainingJobStatus"] in ("InProgress", "Failed", "Completed", "Stopping")


def test_faults_object_can_be_replaced_at_runtime(sim: Any) -> None:
    sim.faults = Faults(throttle_rate=1.0)
    client = client_for(sim)
    try:
        client.list_training_jobs()
    except Exception as exc:
        assert "ThrottlingException" in str(exc)
    assert sim.stats["faults"]["throttle"] == 1


def test_cli_flags_build_a_simulator() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    opts = vars(
        parser.parse_args(
            [
                "--port",
                "0",
                "--jobs",
                "30",
                "--seed",
                "3",
                "--speed",
                "0",
                "--throttle-rate",
                "0.25",
                "--filter-after-page",
                "--start",
                "2025-06-02T12:00:00+00:00",
            ]
        )
    )
    sim = build(opts)
    assert sim.faults.throttle_rate == 0.25 and sim.filter_after_page
    assert len(sim.job_names()) == 30 and sim.clock.now() == START


def test_core_does_not_import_django() -> None:
    code = (
        "import sys, simulator, simulator.cli, simulator.operations; "
        "assert not [m for m in sys.modules if m.split('.')[0] in ('django', 'jobs', 'dashboard')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(__file__).parents[2]))


def test_cli_module_prints_the_endpoint() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", "--jobs", "5"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(__import__("pathlib").Path(__file__).parents[2]),
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert "http://127.0.0.1:" in line
    finally:
        proc.terminate()
        proc.wait(timeout=10)
