import re
from collections import Counter
from datetime import UTC, datetime

from simulator.population import MAX_LIFE, Population

T0 = datetime(2025, 6, 2, 12, 0, tzinfo=UTC).timestamp()
NAME = re.compile(r"[a-z0-9](-*[a-z0-9]){0,62}")


def test_count_and_creation_follow_a_steady_schedule() -> None:
    pop = Population(seed=3, jobs=500, start_ts=T0)
    assert pop.count_at(T0) == 500
    created = [pop.creation(i) for i in range(600)]
    assert created == sorted(created) and len(set(created)) == 600
    assert created[0] >= T0 - 14 * 86400 and created[499] <= T0 < created[500]
    # The population keeps growing at the same rate.
    assert pop.count_at(T0 + 86400) in range(500 + 500 // 14 - 1, 500 + 500 // 14 + 2)
    for i in (0, 17, 499, 550):
        assert pop.count_at(created[i]) == i + 1
        assert pop.count_at(created[i] - 0.001) == i
        assert pop.first_created_after(created[i]) == i + 1


def test_names_are_unique_valid_and_found_again() -> None:
    pop = Population(seed=11, jobs=5000, start_ts=T0)
    names = [pop.name(i) for i in range(5000)]
    assert len(set(names)) == 5000
    assert all(NAME.fullmatch(n) for n in names)
    assert pop.index_of(names[1234], T0) == 1234
    assert pop.index_of("no-such-job", T0) is None
    tuning = [n for n in names if "-hpo-" in n]
    assert tuning and all(re.search(r"-\d{3}-[0-9a-f]{8}$", n) for n in tuning)


def test_same_seed_same_plans_different_seed_different() -> None:
    a, b, c = (Population(seed=s, jobs=300, start_ts=T0) for s in (5, 5, 6))
    assert [a.plan(i) for i in range(300)] == [b.plan(i) for i in range(300)]
    assert [a.name(i) for i in range(300)] != [c.name(i) for i in range(300)]


def test_plans_are_realistic_and_bounded() -> None:
    pop = Population(seed=1, jobs=3000, start_ts=T0)
    plans = [pop.plan(i) for i in range(3000)]
    ends = Counter(p.events[-1].status for p in plans)
    assert ends["Completed"] > ends["Failed"] > 0 and ends["MaxRuntimeExceeded"] > 0
    assert sum(p.planned_stop is not None for p in plans) > 0
    assert {p.fail_kind for p in plans} >= {
        "algorithm",
        "s3_denied",
        "bad_image",
        "capacity",
        "resource_limit",
        "internal",
    }
    assert any(p.spot for p in plans) and any(p.instance_groups for p in plans) and any(p.keep_alive for p in plans)
    assert any(p.instance_count > 1 for p in plans) and any(p.tuner for p in plans)
    for p in plans:
        starts = [e.start for e in p.events]
        assert starts == sorted(starts)
        assert p.events[0].status == "Starting" and p.events[0].start == p.creation
        assert p.events[-1].start + (p.keep_alive or 0) + p.stop_delay - p.creation < MAX_LIFE
        training = [e for e in p.events if e.status == "Training"]
        if p.events[-1].status == "Completed":
            assert training and p.events[-2].status == "Uploading"


def test_phase_lengths_are_in_range() -> None:
    pop = Population(seed=2, jobs=1000, start_ts=T0)
    for i in range(1000):
        plan = pop.plan(i)
        if plan.warm_from is not None:
            continue  # a reused warm pool starts fast (tests/simulator/test_new_cases.py)
        ev = plan.events
        for k in range(len(ev) - 1):
            length = ev[k + 1].start - ev[k].start
            if ev[k].status == "Starting" and ev[k + 1].status != "Failed":
                assert 60 <= length <= 300 + 0.01
            if ev[k].status in ("Downloading", "DownloadingTrainingImage") and ev[k + 1].status != "Failed":
                assert 60 <= length <= 600 + 0.01
            if ev[k].status == "Uploading":
                assert 60 <= length <= 300 + 0.01
