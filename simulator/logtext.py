"""The log lines a job's containers write, per host and per container attempt (pure).

SageMaker writes one stream per host and container start,
``<job>/algo-<n>-<epoch seconds>``; a spot interruption or an internal
restart starts new containers and so new streams. Lines follow the job's
phases: data download progress, the training toolkit starting the script,
one line a minute with the same metric values the CloudWatch curves carry
(in the ``name=value`` form the MetricDefinitions' regexes read), the
upload, and for a failed job the traceback and the failure reason at the
very end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from .activity import MINUTE, JobActivity, Span, hardware, minutes
from .rand import unit3

BREAKS = ("Interrupted", "Restarting")


class LogContext(NamedTuple):
    """What the lines quote from the job's configuration."""

    channels: tuple[tuple[str, str], ...]  # (channel name, S3 URI)
    image: str
    output: str  # S3 model artifact path
    epochs: int
    failure: str | None  # FailureReason of a failed job
    fail_kind: str | None


class LogEvent(NamedTuple):
    timestamp: int  # ms
    ingestion: int  # ms, when CloudWatch Logs has it (and a reader can see it)
    message: str


def attempts(act: JobActivity) -> list[tuple[float, float]]:
    """(start, end) of each container attempt: from a Downloading to the next break or the end."""
    out: list[tuple[float, float]] = []
    start = None
    for s in act.spans:
        if s.status == "Downloading" and start is None:
            start = s.start
        elif s.status in BREAKS and start is not None:
            out.append((start, s.start))
            start = None
    if start is not None:
        out.append((start, act.spans[-1].end))
    return out


def stream_name(job: str, host: int, start: float) -> str:
    return f"{job}/algo-{host}-{int(start)}"


def _stamp(t: float) -> str:
    d = datetime.fromtimestamp(t, UTC)
    return f"{d:%Y-%m-%d %H:%M:%S},{d.microsecond // 1000:03d}"


def fmt(value: float) -> str:
    """A metric value as a log line prints it: fixed point, so ``[0-9\\.]+`` reads it back exactly."""
    text = f"{value:.12f}".rstrip("0").rstrip(".")
    return text or "0"


_INNER = re.compile(r'ErrorMessage "(.*?)"\n(?:Command|$)', re.S)


def failure_lines(failure: str, fail_kind: str | None) -> list[str]:
    """A failed container's last words: the traceback, then the failure reason line by line."""
    lines: list[str] = []
    if fail_kind == "algorithm":
        inner = _INNER.search(failure)
        if inner:
            lines += [line for line in inner.group(1).split("\n") if line.strip()]
        lines.append("sagemaker-training-toolkit ERROR    Reporting training FAILURE")
    lines += [line for line in failure.split("\n") if line.strip()]
    return lines


def stream_events(act: JobActivity, ctx: LogContext, host: int, attempt: int) -> list[LogEvent]:
    """Every line of host ``host`` (1-based) in container attempt ``attempt`` (0-based), planned to the end."""
    start, end = attempts(act)[attempt]
    last_attempt = attempt == len(attempts(act)) - 1
    name = f"algo-{host}"
    lines: list[tuple[float, str]] = []

    def say(t: float, text: str) -> None:
        lines.append((t, text))

    inside = [s for s in act.spans if start <= s.start < end]
    for k, s in enumerate(inside):
        if s.status == "Downloading":
            say(s.start + 0.5, f"{_stamp(s.start)} sagemaker-training-toolkit INFO     Starting on {name}")
            for n, (channel, uri) in enumerate(ctx.channels):
                say(s.start + 1 + 0.01 * n, f"Downloading channel {channel} from {uri} to /opt/ml/input/data/{channel}")
            span = max(s.end - s.start, 1.0)
            for m in minutes(s.start + 1.5, s.end):
                done = (m - s.start) / span
                say(m, f"[{name}] downloading input data: {100 * done:.0f}% done")
        elif s.status == "DownloadingTrainingImage":
            say(s.start + 0.5, f"Pulling training image {ctx.image}")
        elif s.status == "Training":
            resumed = any(p.status == "Training" for p in act.spans if p.end <= s.start)
            _training(act, ctx, s, host, say, resumed=resumed)
        elif s.status == "Uploading":
            say(s.start + 0.2, f"{_stamp(s.start)} sagemaker-training-toolkit INFO     Reporting training SUCCESS")
            say(s.start + 1.0, f"Uploading model artifacts to {ctx.output}")
        elif s.status == "Stopping" and k:
            say(s.start + 0.3, f"[{name}] Received SIGTERM: the training job is stopping; saving a checkpoint")
        if k == len(inside) - 1 and not last_attempt:
            say(s.end - 0.5, f"[{name}] Received SIGTERM: instance interrupted; the last checkpoint is kept")
    if last_attempt and ctx.failure:
        fail_at = act.spans[-1].end - 1.0
        if host == 1:
            for n, line in enumerate(failure_lines(ctx.failure, ctx.fail_kind)):
                say(fail_at + 0.001 * n, line)
        else:
            say(fail_at, f"[{name}] Exiting: algo-1 reported a failure")
    lines.sort(key=lambda item: item[0])
    out: list[LogEvent] = []
    ingested = 0
    salt = 7919 * host + attempt
    for n, (t, text) in enumerate(lines):
        ts = int(t * 1000)
        # CloudWatch Logs ingests a line a fraction of a second after it is written, in order.
        ingested = max(ingested, ts + 200 + int(700 * unit3(act.key, salt, n)))
        out.append(LogEvent(ts, ingested, text))
    return out


def _training(
    act: JobActivity, ctx: LogContext, s: Span, host: int, emit: Callable[[float, str], None], *, resumed: bool
) -> None:
    name = f"algo-{host}"
    gpus = hardware(act.host_types[host - 1])[1]
    emit(s.start + 0.2, f"{_stamp(s.start)} sagemaker-training-toolkit INFO     Imported framework")
    emit(s.start + 0.3, f"{_stamp(s.start)} sagemaker-training-toolkit INFO     {gpus} GPUs detected on {name}")
    if resumed:
        emit(s.start + 0.4, f"[{name}] Resuming from the latest checkpoint in /opt/ml/checkpoints")
    emit(s.start + 0.5, f"{_stamp(s.start)} sagemaker-training-toolkit INFO     Invoking user script")
    names = [n for n, _ in act.metrics]
    epochs = max(1, ctx.epochs)
    for m in minutes(s.start, s.end):
        p = act.progress(m)
        epoch = min(epochs, int(p * epochs) + 1)
        step = int(p * 1000 * epochs)
        if host == 1:
            values = " ".join(f"{n}={fmt(act.metric_value(n, m))}" for n in names)
            emit(m, f"[epoch {epoch}/{epochs}] step {step} {values}".rstrip())
        elif (m // MINUTE) % 5 == 0:
            rate = 800 + 400 * unit3(act.key, host, m // MINUTE)
            emit(m, f"[{name}] step {step}: {rate:.1f} samples/sec")


def epochs_of(hyperparameters: Sequence[tuple[str, str]]) -> int:
    for k, v in hyperparameters:
        if k in ("epochs", "num_round"):
            try:
                return int(v)
            except ValueError:
                return 1
    return 1
