"""Pure generation: curve shapes, utilization, a job's series and its log lines."""

from __future__ import annotations

import re

import pytest

from simulator import curves, logtext
from simulator.activity import JobActivity, host_types, minutes
from simulator.population import Event

T0 = 1_748_860_800.0  # a whole minute


def _events(*phases: tuple[str, float]) -> tuple[Event, ...]:
    out, t = [], T0
    for status, seconds in phases:
        out.append(Event(status, t, ""))
        t += seconds
    return tuple(out)


COMPLETED = _events(
    ("Starting", 120),
    ("LaunchingMLInstances", 180),
    ("PreparingTrainingStack", 60),
    ("Downloading", 300),
    ("DownloadingTrainingImage", 120),
    ("Training", 3600),
    ("Uploading", 120),
    ("Completed", 0),
)
METRICS = (("train:loss", 0.12), ("validation:accuracy", 0.91), ("train:learning_rate", 2e-5))


def _activity(events=COMPLETED, hosts=("ml.g5.12xlarge",), natural=None) -> JobActivity:
    return JobActivity("job-a", events, natural or events, METRICS, hosts)


@pytest.mark.parametrize(("name", "final"), METRICS)
def test_curves_end_at_the_final_value_and_move_the_right_way(name: str, final: float) -> None:
    c = curves.curve_for(name, final, 0.4, 0.6)
    start, end = curves.value_at(c, 0.0, 0.5), curves.value_at(c, 1.0, 0.9)
    assert end == pytest.approx(final, rel=1e-5)
    if curves.direction(name) == "rising":
        assert start < end <= 1.0
    else:
        assert start > end > 0


def test_noise_never_breaks_bounds() -> None:
    acc = curves.curve_for("validation:accuracy", 0.99, 0.99, 0.0)
    loss = curves.curve_for("train:loss", 0.01, 0.0, 0.0)
    for p in (0.0, 0.3, 0.9):
        for u in (0.0, 0.999):
            assert 0 <= curves.value_at(acc, p, u) <= 1
            assert curves.value_at(loss, p, u) >= 0


def test_utilization_is_idle_while_downloading_high_while_training_and_summed_over_gpus() -> None:
    idle = [curves.utilization("GPUUtilization", "Downloading", 4, 1.0, u / 10) for u in range(10)]
    busy = [curves.utilization("GPUUtilization", "Training", 4, 1.0, u / 10) for u in range(10)]
    assert max(idle) < 25 and min(busy) > 300 and max(busy) <= 400
    assert curves.disk("Downloading", 0.0, 5, 40, 0.5) < curves.disk("Downloading", 1.0, 5, 40, 0.5)


def test_a_completed_job_ends_each_curve_on_its_final_metric() -> None:
    act = _activity()
    for name, final in METRICS:
        points = list(act.metric_points(name, 0, T0 + 86400))
        assert len(points) == 60  # one a minute of training
        assert points[-1][1] == final
        assert all(ts % 60 == 0 for ts, _ in points)
    loss = [v for _, v in act.metric_points("train:loss", 0, T0 + 86400)]
    assert loss[0] > 3 * loss[-1]


def test_points_are_deterministic_and_ranges_compose() -> None:
    a, b = _activity(), _activity()
    whole = list(a.metric_points("train:loss", 0, T0 + 86400))
    assert whole == list(b.metric_points("train:loss", 0, T0 + 86400))
    cut = whole[20][0]
    assert list(a.metric_points("train:loss", 0, cut)) + list(a.metric_points("train:loss", cut, T0 + 86400)) == whole


def test_instance_metrics_per_host_only_while_instances_are_up() -> None:
    act = _activity(hosts=host_types("ml.g5.12xlarge", 2, ()))
    assert act.hosts() == ["job-a/algo-1", "job-a/algo-2"]
    assert "GPUUtilization" in act.host_metrics(2)
    cpu = dict(act.host_points(1, "GPUUtilization", 0, T0 + 86400))
    prep = COMPLETED[2].start
    assert min(cpu) == prep and max(cpu) < COMPLETED[-1].start
    training = [v for ts, v in cpu.items() if COMPLETED[5].start <= ts < COMPLETED[6].start]
    downloading = [v for ts, v in cpu.items() if COMPLETED[3].start <= ts < COMPLETED[4].start]
    assert min(training) > 250 and max(downloading) < 25
    assert list(act.host_points(3, "CPUUtilization", 0, T0 + 86400)) == []


def test_cpu_instances_publish_no_gpu_metrics_and_groups_give_hosts_their_types() -> None:
    hosts = host_types("ml.p3.2xlarge", 3, (("gpu", "ml.p3.2xlarge", 1), ("cpu", "ml.c5.2xlarge", 2)))
    act = _activity(hosts=hosts)
    assert "GPUUtilization" in act.host_metrics(1)
    assert act.host_metrics(3) == ("CPUUtilization", "MemoryUtilization", "DiskUtilization")


def test_a_stop_cuts_the_curve_without_bending_it() -> None:
    stop_at = COMPLETED[5].start + 1200
    stopped = (*COMPLETED[:6], Event("Stopping", stop_at, ""), Event("Stopped", stop_at + 90, ""))
    cut = list(_activity(stopped, natural=COMPLETED).metric_points("train:loss", 0, T0 + 86400))
    whole = list(_activity().metric_points("train:loss", 0, T0 + 86400))
    assert cut == whole[: len(cut)] and len(cut) == 20


def test_log_lines_carry_the_curve_values_in_the_metric_definitions_form() -> None:
    act = _activity()
    ctx = logtext.LogContext((("train", "s3://b/p/train/"),), "image:1", "s3://b/p/model.tar.gz", 3, None, None)
    events = logtext.stream_events(act, ctx, 1, 0)
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)
    assert all(e.ingestion >= e.timestamp for e in events)
    regex = re.compile(r"train:loss=([0-9\.]+)")
    logged = [float(m.group(1)) for e in events if (m := regex.search(e.message))]
    assert logged == [v for _, v in act.metric_points("train:loss", 0, T0 + 86400)]
    lr = re.compile(r"train:learning_rate=([0-9\.]+)")
    assert float(lr.search(events[-3].message).group(1)) == 2e-5  # type: ignore[union-attr]
    assert "Reporting training SUCCESS" in events[-2].message


def test_an_algorithm_error_ends_the_leader_stream_with_the_traceback_and_reason() -> None:
    failed = (*COMPLETED[:5], Event("Training", COMPLETED[5].start, ""), Event("Failed", COMPLETED[5].start + 900, ""))
    reason = (
        "AlgorithmError: ExecuteUserScriptError:\nExitCode 1\n"
        'ErrorMessage "Traceback (most recent call last):\n  File "/opt/ml/code/train.py", line 3\n'
        'RuntimeError: CUDA out of memory."\nCommand "python train.py", exit code: 1'
    )
    act = _activity(failed, hosts=("ml.g5.2xlarge", "ml.g5.2xlarge"), natural=COMPLETED)
    ctx = logtext.LogContext((), "image:1", "s3://b/m", 3, reason, "algorithm")
    leader = [e.message for e in logtext.stream_events(act, ctx, 1, 0)]
    tail = leader[-10:]
    assert tail[0] == "Traceback (most recent call last):"
    assert "RuntimeError: CUDA out of memory." in tail
    assert "Reporting training FAILURE" in leader[-7]
    assert leader[-6:] == [line for line in reason.split("\n") if line.strip()]
    assert leader[-1] == 'Command "python train.py", exit code: 1'
    worker = logtext.stream_events(act, ctx, 2, 0)
    assert "algo-1 reported a failure" in worker[-1].message


def test_interruptions_start_new_container_attempts() -> None:
    spot = _events(
        ("Downloading", 120),
        ("Training", 600),
        ("Interrupted", 300),
        ("Downloading", 120),
        ("Training", 600),
        ("Uploading", 60),
        ("Completed", 0),
    )
    act = _activity(spot)
    attempts = logtext.attempts(act)
    assert [a[0] for a in attempts] == [spot[0].start, spot[3].start]
    assert logtext.stream_name("job-a", 2, attempts[1][0]) == f"job-a/algo-2-{int(spot[3].start)}"
    second = logtext.stream_events(act, logtext.LogContext((), "i", "o", 1, None, None), 1, 1)
    assert any("Resuming from the latest checkpoint" in e.message for e in second)
    # No instance metrics while the instances were reclaimed.
    interrupted = minutes(spot[2].start, spot[3].start)
    assert not set(interrupted) & {ts for ts, _ in act.host_points(1, "CPUUtilization", 0, T0 + 86400)}


def test_fmt_reads_back_exactly() -> None:
    for v in (2e-05, 0.365018, 1.0, 123.456, 0.0):
        assert float(logtext.fmt(v)) == v
        assert re.fullmatch(r"[0-9\.]+", logtext.fmt(v))
