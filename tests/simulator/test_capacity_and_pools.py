"""InstancePreferences, MaxWaitTimeExceeded and warm pool reuse in the simulated account."""

from collections import Counter
from typing import Any

import pytest

from simulator import SimulatedSageMaker
from simulator.operations import list_training_jobs
from simulator.population import Population
from simulator.render import to_datetimes

from .conftest import START, client_for
from .shapes import assert_valid, output_shape

JOBS = 3000


@pytest.fixture(scope="module")
def account() -> Any:
    return SimulatedSageMaker(jobs=JOBS, seed=7, speed=0, start=START).account


def _jobs(account: Any, test: Any) -> list[int]:
    return [i for i in range(JOBS) if test(account.population.plan(i))]


def _times(events: Any) -> list[float]:
    return [e.start for e in events] + [e.start + 0.5 for e in events]


def test_new_cases_come_in_modest_proportions() -> None:
    pop = Population(seed=7, jobs=5000, start_ts=START.timestamp())
    plans = [pop.plan(i) for i in range(5000)]
    share = Counter()
    for p in plans:
        share["preferences"] += bool(p.preferences)
        share["owner"] += p.reused_by is not None
        share["owner_seen"] += p.reused_by is not None and p.reused_by < 5000  # reusers may be still to come
        share["reuser"] += p.warm_from is not None
        share["max_wait"] += p.events[-1].status == "MaxWaitTimeExceeded"
        share["spot"] += p.spot
    assert 0.01 * 5000 < share["preferences"] < 0.05 * 5000
    assert 0.008 * 5000 < share["owner"] < 0.04 * 5000 and share["owner_seen"] == share["reuser"]
    assert 0.04 * share["spot"] < share["max_wait"] < 0.13 * share["spot"]


def test_new_fields_are_deterministic_per_seed() -> None:
    a, b, c = (Population(seed=s, jobs=2000, start_ts=START.timestamp()) for s in (4, 4, 5))

    def pick(pop: Population) -> list[Any]:
        return [(p.preferences, p.warm_from, p.reused_by, p.reuse_at, p.events) for p in map(pop.plan, range(2000))]

    assert pick(a) == pick(b) != pick(c)
    # Building a reuser first (which builds its owner) gives the same plans as building in order.
    d = Population(seed=4, jobs=2000, start_ts=START.timestamp())
    assert [d.plan(i) for i in reversed(range(2000))][::-1] == [a.plan(i) for i in range(2000)]


def test_instance_preferences_report_the_selected_type_once_instances_are_up(account: Any) -> None:
    shape = output_shape("DescribeTrainingJob")
    jobs = _jobs(account, lambda p: p.preferences)
    assert len(jobs) >= 20
    per_preference = fallback = 0
    for i in jobs:
        plan, events = account.events(i)
        assert not plan.spot and not plan.instance_groups and not plan.keep_alive
        selected_at = next((e.start for e in events if e.status == "PreparingTrainingStack"), None)
        for t in _times(events):
            d = to_datetimes(account.describe(i, t))
            assert_valid(d, shape)
            rc = d["ResourceConfig"]
            assert "InstanceType" not in rc and "InstanceGroups" not in rc
            prefs = rc["InstancePreferences"]
            counted = ["InstanceCount" in p for p in prefs]
            assert all(counted) != ("InstanceCount" in rc) and len(set(counted)) == 1
            if selected_at is None or t < selected_at:
                assert "SelectedInstanceType" not in rc and "SelectedInstanceCount" not in rc
                continue
            choice = next(p for p in prefs if p["InstanceType"] == rc["SelectedInstanceType"])
            assert rc["SelectedInstanceCount"] == choice.get("InstanceCount", rc.get("InstanceCount"))
            if "TrainingTimeInSeconds" in d:
                # Per instance, as for every job: the product multiplies by SelectedInstanceCount.
                span = (d["TrainingEndTime"] - d["TrainingStartTime"]).total_seconds()
                assert abs(d["TrainingTimeInSeconds"] - span) <= 1 and d["BillableTimeInSeconds"] <= span + 1
        per_preference += all(counted)
        fallback += prefs[0]["InstanceType"] != plan.instance_type
        if fallback and prefs[0]["InstanceType"] != plan.instance_type and selected_at is not None:
            launch = next(e for e in events if e.status == "LaunchingMLInstances")
            assert prefs[0]["InstanceType"] in launch.message
    assert 0 < per_preference < len(jobs) and fallback > 0


def test_spot_jobs_that_wait_too_long_end_max_wait_time_exceeded(account: Any) -> None:
    shape = output_shape("DescribeTrainingJob")
    jobs = _jobs(account, lambda p: p.events[-1].status == "MaxWaitTimeExceeded")
    started = 0
    for i in jobs:
        plan, events = account.events(i)
        assert plan.spot and plan.max_wait
        assert [e.status for e in events[-2:]] == ["Stopping", "MaxWaitTimeExceeded"]
        assert events[-2].start == pytest.approx(plan.creation + plan.max_wait, abs=0.01)
        assert "MaxWaitTimeInSeconds" in events[-2].message
        d = to_datetimes(account.describe(i, events[-1].start))
        assert_valid(d, shape)
        assert (d["TrainingJobStatus"], d["SecondaryStatus"]) == ("Stopped", "MaxWaitTimeExceeded")
        assert "FailureReason" not in d
        if "TrainingStartTime" in d:
            started += 1
            assert [e.status for e in events[-3:-1]] == ["Interrupted", "Stopping"]
            assert 0 < d["BillableTimeInSeconds"] < d["TrainingTimeInSeconds"]
        else:
            assert "TrainingTimeInSeconds" not in d and "BillableTimeInSeconds" not in d
            assert "Downloading" not in {e.status for e in events}
    assert 0 < started < len(jobs)


def test_warm_pool_moves_to_a_matching_job_that_starts_fast(account: Any) -> None:
    shape = output_shape("DescribeTrainingJob")
    owners = _jobs(account, lambda p: p.reused_by is not None)
    assert len(owners) >= 10
    for i in owners:
        plan, events = account.events(i)
        j = plan.reused_by
        reuser, reuser_events = account.events(j)
        assert reuser.warm_from == i and j > i and plan.reuse_at == reuser.creation
        end = events[-1].start
        assert events[-1].status == "Completed" and end < plan.reuse_at < end + plan.keep_alive
        before = to_datetimes(account.describe(i, plan.reuse_at - 0.5))
        after = to_datetimes(account.describe(i, plan.reuse_at + 3600))
        assert_valid(before, shape)
        assert_valid(after, shape)
        assert before["WarmPoolStatus"] == {"Status": "Available"}
        assert after["WarmPoolStatus"] == {
            "Status": "Reused",
            "ResourceRetainedBillableTimeInSeconds": round(plan.reuse_at - end),
            "ReusedByJob": reuser.name,
        }
        assert after["LastModifiedTime"].timestamp() == pytest.approx(plan.reuse_at)

        # The reuser matches the pool and skips provisioning.
        owner_d, reuser_d = account.describe(i, end), account.describe(j, reuser_events[-1].start)
        for member in ("ResourceConfig", "RoleArn", "AlgorithmSpecification"):
            assert reuser_d[member] == owner_d[member]
        assert reuser.family == plan.family and not reuser.spot
        statuses = [e.status for e in reuser_events]
        assert "LaunchingMLInstances" not in statuses[:3] and reuser_events[1].start - reuser.creation < 60
        for t in _times(reuser_events):
            d = to_datetimes(account.describe(j, t))
            assert_valid(d, shape)
            pool = d["WarmPoolStatus"]
            if d["TrainingJobStatus"] in ("InProgress", "Stopping"):
                assert pool == {"Status": "InUse"}
            elif d["TrainingJobStatus"] == "Completed":
                assert pool == {"Status": "Available"}
            else:
                assert pool == {"Status": "Terminated", "ResourceRetainedBillableTimeInSeconds": 0}
        if statuses[-1] == "Completed":
            late = account.describe(j, reuser_events[-1].start + reuser.keep_alive + 1)
            assert late["WarmPoolStatus"] == {
                "Status": "Terminated",
                "ResourceRetainedBillableTimeInSeconds": reuser.keep_alive,
            }


def test_warm_pool_filter_matches_every_status(make_sim: Any) -> None:
    sim = make_sim(jobs=JOBS, seed=7)
    acct = sim.account
    # Move to just before a future owner's pool is reused (so it is Available) while some reuser runs.
    now = acct.clock.timestamp()
    wanted = {"Available", "Reused", "InUse", "Terminated"}
    for i in range(JOBS, 2 * JOBS):
        owner = acct.population.plan(i)
        if owner.reuse_at is None:
            continue
        t = owner.reuse_at - 1
        by_status = Counter(acct.state(k, t).warm_pool for k in range(acct.count(t)))
        if wanted <= set(by_status):
            break
    else:
        pytest.fail("no moment with every warm pool status")
    acct.clock.advance(t - now)
    assert acct.clock.timestamp() == pytest.approx(t)
    running = {acct.population.name(k) for k in range(acct.count(t)) if acct.state(k, t).warm_pool == "InUse"}
    shape = output_shape("ListTrainingJobs")
    for status in ("Available", "Reused", "InUse", "Terminated"):
        found, token = [], None
        while True:
            req = {"WarmPoolStatusEquals": status, "MaxResults": 100}
            if token:
                req["NextToken"] = token
            page = list_training_jobs(acct, req)
            assert_valid(to_datetimes(page), shape)
            found += [s["TrainingJobName"] for s in page["TrainingJobSummaries"]]
            assert all(s["WarmPoolStatus"]["Status"] == status for s in page["TrainingJobSummaries"])
            token = page.get("NextToken")
            if not token:
                break
        assert len(found) == by_status[status]
    # And through boto3, which validates the enum and parses ReusedByJob.
    client = client_for(sim)
    reused = client.list_training_jobs(WarmPoolStatusEquals="Reused", MaxResults=100)["TrainingJobSummaries"]
    assert reused and all(s["WarmPoolStatus"]["ReusedByJob"] for s in reused)
    in_use = client.list_training_jobs(WarmPoolStatusEquals="InUse", MaxResults=100)["TrainingJobSummaries"]
    assert {s["TrainingJobName"] for s in in_use} == running
