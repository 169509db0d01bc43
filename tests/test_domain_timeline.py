from datetime import UTC, datetime, timedelta

from jobs.domain.parse import Transition
from jobs.domain.timeline import merge_transitions, phase_durations, restart_count

T = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T + timedelta(minutes=minutes)


def test_merge_is_idempotent():
    steps = [Transition("Starting", at(0), at(2)), Transition("Training", at(2), None, "Training")]
    assert merge_transitions(steps, steps) == steps
    assert merge_transitions(merge_transitions([], steps), steps) == steps


def test_newer_read_closes_an_open_step_and_adds_the_next():
    old = [Transition("Starting", at(0), at(2)), Transition("Training", at(2))]
    new = [Transition("Starting", at(0), at(2)), Transition("Training", at(2), at(30)), Transition("Uploading", at(30))]
    merged = merge_transitions(old, new)
    assert [t.status for t in merged] == ["Starting", "Training", "Uploading"]
    assert merged[1].end_time == at(30)


def test_older_read_never_reopens_or_erases_history():
    new = [Transition("Starting", at(0), at(2)), Transition("Training", at(2), at(30)), Transition("Uploading", at(30))]
    stale = [Transition("Starting", at(0), at(2)), Transition("Training", at(2))]
    merged = merge_transitions(new, stale)
    assert [t.status for t in merged] == ["Starting", "Training", "Uploading"]
    assert merged[1].end_time == at(30)


def test_restarts_keep_repeated_statuses_apart():
    steps = [
        Transition("Starting", at(0), at(2)),
        Transition("Training", at(2), at(10)),
        Transition("Interrupted", at(10), at(12)),
        Transition("Starting", at(12), at(14)),
        Transition("Training", at(14), at(40)),
    ]
    merged = merge_transitions([], steps)
    assert len(merged) == 5
    assert restart_count(merged) == 1
    durations = phase_durations(merged, now=at(60))
    assert durations["Starting"] == 4 * 60
    assert durations["Training"] == (8 + 26) * 60


def test_open_phase_counts_up_to_now():
    assert phase_durations([Transition("Training", at(0))], now=at(7)) == {"Training": 420}
