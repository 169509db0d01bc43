"""``python -m simulator``: serve a simulated SageMaker account until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from .clock import Clock
from .faults import Faults
from .sim import SimulatedSageMaker
from .state import StateError, resume


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a rate between 0 and 1")
    return value


def _speed(text: str) -> float:
    value = float(text)
    if value != 0 and not value >= 1:
        raise argparse.ArgumentTypeError(f"{text}: jobs run at real pace (1) or faster; 0 freezes the clock")
    return value


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("--start needs a time zone, e.g. 2025-06-01T00:00:00+00:00")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--jobs", type=int, default=200, help="jobs that exist at the epoch (more keep arriving)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--speed",
        type=_speed,
        default=30.0,
        help="how many times faster than in reality jobs arrive and run (1 = real pace; 0 = frozen clock); "
        "the clock itself always follows real time",
    )
    parser.add_argument(
        "--start", type=_aware, default=None, help="the clock's start (ISO 8601, aware; default: real now)"
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        help="JSON file keeping the account (seed, size, epoch, pace) across restarts; created if missing",
    )
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
    clock = Clock(start=options["start"], speed=0 if options["speed"] == 0 else 1)
    account: dict[str, Any] = {}
    state_path = options.get("state")
    if state_path is not None:
        now = clock.timestamp()
        state, line = resume(state_path, seed=options["seed"], jobs=options["jobs"], speed=options["speed"], now=now)
        account = {"epoch": state.epoch, "pace": state.pace}
        options.get("say", print)(line)
    return SimulatedSageMaker(
        jobs=options["jobs"],
        seed=options["seed"],
        speed=options["speed"],
        clock=clock,
        **account,
        faults=faults,
        region=options["region"],
        account_id=options["account_id"],
        host=options["host"],
        port=options["port"],
        filter_after_page=options["filter_after_page"],
    )


def banner(sim: SimulatedSageMaker) -> str:
    url = sim.endpoint_url
    return (
        f"Simulated SageMaker, CloudWatch, CloudWatch Logs and SQS at {url} (export AWS_ENDPOINT_URL_SAGEMAKER={url} "
        f"AWS_ENDPOINT_URL_CLOUDWATCH={url} AWS_ENDPOINT_URL_CLOUDWATCH_LOGS={url} AWS_ENDPOINT_URL_SQS={url}); "
        f"events queue {sim.events_queue_url}; Ctrl-C to stop"
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
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Serve a simulated SageMaker account (with its CloudWatch metrics and logs).",
    )
    add_arguments(parser)

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        sim = build({**vars(parser.parse_args(argv)), "say": say})
    except StateError as exc:
        print(f"python -m simulator: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    serve(sim, say)
