"""A job's life as seen over simulated time."""

from typing import Any

from simulator import SimulatedSageMaker
from simulator.timeline import TERMINAL

from .conftest import client_for

PHASE_ORDER = [
    "Starting",
    "Pending",
    "LaunchingMLInstances",
    "PreparingTrainingStack",
    "Downloading",
    "DownloadingTrainingImage",
    "Training",
    "Uploading",
    "Completed",
]


def _newest_running(sim: SimulatedSageMaker) -> str:
    """Advance to just after the next arrival of a job that plans to complete, and name it."""
    acct, t = sim.account, sim.clock.timestamp()
    i = acct.count(t)
    while acct.population.plan(i).fail_kind or acct.population.plan(i).planned_stop:
        i += 1
    sim.clock.advance(acct.population.creation(i) - t + 1)
    name = acct.population.name(i)
    assert sim.describe(name)["SecondaryStatus"] == "Starting"
    return name


def test_a_job_observed_over_time_moves_forward_and_ends_terminal(make_sim: Any) -> None:
    sim = make_sim(jobs=2000, seed=3)
    name = _newest_running(sim)
    seen: list[str] = []
    for _ in range(6 * 24 * 4):  # four days in 10-minute steps
        d = sim.describe(name)
        if not seen or seen[-1] != d["SecondaryStatus"]:
            seen.append(d["SecondaryStatus"])
        transitions = d["SecondaryStatusTransitions"]
        assert [t["Status"] for t in transitions][-1] == d["SecondaryStatus"]
        assert all("EndTime" in t for t in transitions[:-1])
        assert d["LastModifiedTime"] >= transitions[-1]["StartTime"]
        if d["TrainingJobStatus"] in TERMINAL:
            break
        assert "EndTime" not in transitions[-1]
        sim.clock.advance(600)
    assert d["TrainingJobStatus"] in TERMINAL
    assert seen[0] == "Starting" and seen[-1] == "Completed"
    if len(set(seen)) == len(seen):  # no restart or spot interruption: strictly forward
        assert seen == sorted(seen, key=PHASE_ORDER.index)


def test_completed_jobs_show_phases_in_order_with_billing() -> None:
    sim = SimulatedSageMaker(jobs=400, seed=4, speed=0)
    completed = [sim.describe(n) for n in sim.job_names()]
    completed = [d for d in completed if d["TrainingJobStatus"] == "Completed"]
    assert len(completed) > 100
    for d in completed:
        statuses = [t["Status"] for t in d["SecondaryStatusTransitions"]]
        plain = [s for s in statuses if s in PHASE_ORDER]
        if statuses == plain:  # no restarts or spot interruptions
            assert plain == sorted(plain, key=PHASE_ORDER.index)
        assert statuses[-1] == "Completed"
        assert d["TrainingStartTime"] < d["TrainingEndTime"] <= d["LastModifiedTime"]
        assert d["TrainingTimeInSeconds"] >= d["BillableTimeInSeconds"] >= 1
        assert d["FinalMetricDataList"]
        assert "FailureReason" not in d


def test_jobs_failing_before_training_have_no_training_times() -> None:
    sim = SimulatedSageMaker(jobs=1500, seed=5, speed=0)
    early = 0
    for name in sim.job_names():
        d = sim.describe(name)
        if d["TrainingJobStatus"] != "Failed":
            continue
        assert d["FailureReason"] and len(d["FailureReason"]) <= 1024
        statuses = [t["Status"] for t in d["SecondaryStatusTransitions"]]
        if "Downloading" not in statuses:
            early += 1
            for key in ("TrainingStartTime", "TrainingEndTime", "TrainingTimeInSeconds", "BillableTimeInSeconds"):
                assert key not in d
    assert early > 0


def test_stop_training_job_stops_via_boto3(make_sim: Any) -> None:
    sim = make_sim(jobs=2000, seed=3)
    client = client_for(sim)
    name = _newest_running(sim)
    client.stop_training_job(TrainingJobName=name)
    d = client.describe_training_job(TrainingJobName=name)
    assert (d["TrainingJobStatus"], d["SecondaryStatus"]) == ("Stopping", "Stopping")
    sim.clock.advance(30)
    client.stop_training_job(TrainingJobName=name)  # repeating while Stopping is accepted
    sim.clock.advance(120)
    d = client.describe_training_job(TrainingJobName=name)
    assert (d["TrainingJobStatus"], d["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert [t["Status"] for t in d["SecondaryStatusTransitions"]][-2:] == ["Stopping", "Stopped"]
    stopped_at = d["LastModifiedTime"]
    sim.clock.advance(86400 * 3)
    assert client.describe_training_job(TrainingJobName=name)["LastModifiedTime"] == stopped_at
    assert sim.describe(name)["TrainingJobStatus"] == "Stopped"


def test_spot_jobs_bill_less_than_they_train() -> None:
    sim = SimulatedSageMaker(jobs=1500, seed=6, speed=0)
    spot = [sim.describe(n) for n in sim.job_names()]
    spot = [d for d in spot if d["EnableManagedSpotTraining"] and "TrainingTimeInSeconds" in d]
    assert spot
    interrupted = 0
    for d in spot:
        assert d["BillableTimeInSeconds"] < d["TrainingTimeInSeconds"]
        assert d["StoppingCondition"]["MaxWaitTimeInSeconds"] >= d["StoppingCondition"]["MaxRuntimeInSeconds"]
        statuses = [t["Status"] for t in d["SecondaryStatusTransitions"]]
        if "Interrupted" in statuses:
            interrupted += 1
            assert statuses[statuses.index("Interrupted") + 1] in ("Starting", "Stopping")
    assert interrupted > 0


def test_retry_strategy_restarts_and_multi_instance_shapes() -> None:
    sim = SimulatedSageMaker(jobs=2000, seed=8, speed=0)
    described = [sim.describe(n) for n in sim.job_names()]
    restarted = [d for d in described if any(t["Status"] == "Restarting" for t in d["SecondaryStatusTransitions"])]
    assert restarted and all("RetryStrategy" in d for d in restarted)
    groups = [d for d in described if "InstanceGroups" in d["ResourceConfig"]]
    assert groups and all(2 <= len(d["ResourceConfig"]["InstanceGroups"]) <= 5 for d in groups)
    assert any(d["ResourceConfig"].get("InstanceCount", 1) > 1 for d in described)
    pools = [d for d in described if "WarmPoolStatus" in d]
    assert pools and all(d["ResourceConfig"]["KeepAlivePeriodInSeconds"] for d in pools)
    assert any(d.get("TuningJobArn") for d in described)
    assert any(d["SecondaryStatus"] == "MaxRuntimeExceeded" and d["TrainingJobStatus"] == "Stopped" for d in described)
