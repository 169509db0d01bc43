"""Protocol conformance: every rendered response fits botocore's SageMaker model."""

from typing import Any

import pytest

from simulator import SimulatedSageMaker
from simulator.operations import list_tags, list_training_jobs, search
from simulator.render import to_datetimes

from .conftest import START
from .shapes import assert_valid, constraint_errors, output_shape

ALL_SECONDARY = {
    "Starting",
    "Pending",
    "LaunchingMLInstances",
    "PreparingTrainingStack",
    "Downloading",
    "DownloadingTrainingImage",
    "Training",
    "Uploading",
    "Completed",
    "Failed",
    "Stopping",
    "Stopped",
    "MaxRuntimeExceeded",
    "Interrupted",
    "Restarting",
}


@pytest.fixture(scope="module")
def account() -> Any:
    return SimulatedSageMaker(jobs=800, seed=12, speed=0, start=START).account


def test_describe_conforms_in_every_phase_of_every_outcome(account: Any) -> None:
    shape = output_shape("DescribeTrainingJob")
    secondary, primary, pools = set(), set(), set()
    for i in range(0, 800, 2):
        plan, events = account.events(i)
        times = [e.start for e in events] + [e.start + 0.5 for e in events]
        if plan.keep_alive:
            times.append(events[-1].start + plan.keep_alive + 1)
        for t in times:
            d = to_datetimes(account.describe(i, t))
            assert_valid(d, shape)
            secondary.add(d["SecondaryStatus"])
            primary.add(d["TrainingJobStatus"])
            pools.add(d.get("WarmPoolStatus", {}).get("Status"))
    assert secondary >= ALL_SECONDARY
    assert primary == {"InProgress", "Completed", "Failed", "Stopping", "Stopped"}
    assert pools >= {None, "Available", "Terminated"}


def test_list_search_and_tags_conform(account: Any) -> None:
    list_shape, search_shape = output_shape("ListTrainingJobs"), output_shape("Search")
    now = account.clock.timestamp()
    for offset in (0, 3600, 6 * 3600, 86400):
        account.clock.advance(offset)
        for order in ("Ascending", "Descending"):
            for sort_by in ("CreationTime", "Name", "Status"):
                page = list_training_jobs(account, {"MaxResults": 100, "SortBy": sort_by, "SortOrder": order})
                assert len(page["TrainingJobSummaries"]) == 100
                assert_valid(to_datetimes(page), list_shape)
        found = search(account, {"Resource": "TrainingJob", "MaxResults": 100})
        assert len(found["Results"]) == 100
        assert_valid(to_datetimes(found), search_shape)
    assert account.clock.timestamp() > now
    arn = account.renderer.arn(account.population.name(5))
    assert_valid(list_tags(account, {"ResourceArn": arn}), output_shape("ListTags"))


def test_checker_catches_what_param_validator_does_not() -> None:
    shape = output_shape("DescribeTrainingJob")
    bad = {
        "TrainingJobStatus": "Pausing",
        "TrainingJobName": "x" * 64,
        "FailureReason": "y" * 1025,
        "RoleArn": "not-an-arn",
        "ResourceConfig": {"KeepAlivePeriodInSeconds": 99999},
    }
    problems = "\n".join(constraint_errors(bad, shape))
    for member in ("TrainingJobStatus", "TrainingJobName", "FailureReason", "RoleArn", "KeepAlivePeriodInSeconds"):
        assert member in problems
