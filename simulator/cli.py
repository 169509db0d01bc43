"""Command-line flags shared by ``python -m simulator`` and the Django command."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .faults import Faults
from .sim import SimulatedSageMaker


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a rate between 0 and 1")
    return value


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("--start needs a time zone, e.g. 2025-06-01T00:00:00+00:00")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--jobs", type=int, default=200, help="jobs that exist at start (more keep arriving)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second")
    parser.add_argument("--start", type=_aware, default=None, help="simulated start (ISO 8601, aware)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--account-id", default="123456789012")
    parser.add_argument("--filter-after-page", action="store_true", help="mimic AWS's ListTrainingJobs quirk")
    parser.add_argument("--throttle-rate", type=_rate, default=0.0)
    parser.add_argument("--server-error-rate", type=_rate, default=0.0)
    parser.add_argument("--unavailable-rate", type=_rate, default=0.0)
    parser.add_argument("--drop-rate", type=_rate, default=0.0)
    parser.add_argument("--malformed-rate", type=_rate, default=0.0)
    parser.add_argument("--latency-ms", type=float, default=0.0)


def build(options: dict[str, Any]) -> SimulatedSageMaker:
    faults = Faults(
        throttle_rate=options["throttle_rate"],
        server_error_rate=options["server_error_rate"],
        unavailable_rate=options["unavailable_rate"],
        drop_rate=options["drop_rate"],
        malformed_rate=options["malformed_rate"],
        latency_ms=options["latency_ms"],
    )
    return SimulatedSageMaker(
        jobs=options["jobs"],
        seed=options["seed"],
        speed=options["speed"],
        faults=faults,
        region=options["region"],
        account_id=options["account_id"],
        host=options["host"],
        port=options["port"],
        start=options["start"],
        filter_after_page=options["filter_after_page"],
    )


def banner(sim: SimulatedSageMaker) -> str:
    return (
        f"Simulated SageMaker at {sim.endpoint_url} "
        f"(export AWS_ENDPOINT_URL_SAGEMAKER={sim.endpoint_url}); Ctrl-C to stop"
    )


def serve(sim: SimulatedSageMaker, say: Callable[[str], object] = print) -> None:
    """Start, announce, and serve until Ctrl-C."""
    sim.start()
    say(banner(sim))
    try:
        sim.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulator", description="Serve a simulated SageMaker account.")
    add_arguments(parser)
    serve(build(vars(parser.parse_args(argv))), lambda line: print(line, flush=True))
