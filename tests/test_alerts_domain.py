"""The pure alert rules: events, history, scope, inert text, backoff."""

from datetime import UTC, datetime, timedelta

import pytest

from alerts import domain

T = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def change(old="InProgress", new="Failed", old2="Training", new2="Failed", *, is_new=False, modified=T):
    return domain.Change(is_new, old, new, old2, new2, modified, T + timedelta(minutes=1))


@pytest.mark.parametrize(
    ("kind", "c", "event"),
    [
        (domain.FAILED, change(), "Failed"),
        (domain.FAILED, change(old="Failed"), None),  # already failed: a secondary move only
        (domain.STOPPED, change(new="Stopped", new2="Stopped"), "Stopped"),
        (domain.STOPPED, change(new="Stopped", new2="MaxRuntimeExceeded"), None),  # the limit rule's event
        (domain.MAX_RUNTIME, change(new="Stopped", new2="MaxRuntimeExceeded"), "MaxRuntimeExceeded"),
        (domain.MAX_RUNTIME, change(new="InProgress", new2="MaxWaitTimeExceeded"), "MaxWaitTimeExceeded"),
        (domain.RESTARTED, change(new="InProgress", new2="Interrupted"), f"restart@{T.isoformat()}"),
        (domain.RESTARTED, change(new="InProgress", old2="Interrupted", new2="Restarting"), None),  # same restart
        (domain.RESTARTED, change(new="InProgress", new2="Restarting", is_new=True), None),
        (domain.COMPLETED, change(new="Completed", new2="Completed"), "Completed"),
        (domain.FAILED, change(new="InProgress", new2="Uploading"), None),
    ],
)
def test_each_kind_fires_on_its_own_event_only(kind, c, event):
    assert domain.event_for(kind, c) == event


def test_only_event_statuses_may_alert():
    assert not domain.may_alert(change(new="InProgress", new2="Downloading"))
    assert domain.may_alert(change(new="InProgress", new2="Restarting"))
    assert domain.may_alert(change())


def test_history_is_before_the_rule_or_a_first_sight_of_a_finished_job_on_a_never_synced_source():
    rule_at = T - timedelta(hours=1)
    assert domain.is_history(
        change(modified=T - timedelta(hours=2)), rule_created_at=rule_at, source_synced_before=True
    )
    assert not domain.is_history(change(), rule_created_at=rule_at, source_synced_before=True)
    new_failed = change(old="", old2="", is_new=True)
    assert domain.is_history(new_failed, rule_created_at=rule_at, source_synced_before=False)
    assert not domain.is_history(new_failed, rule_created_at=rule_at, source_synced_before=True)


def test_a_scope_covers_jobs_matching_every_criterion():
    scope = domain.Scope(tag="team=vision", source_id=1, name_pattern="vit-*")
    assert scope.covers(name="vit-7", tags={"team": "vision"}, source_id=1)
    assert not scope.covers(name="bert", tags={"team": "vision"}, source_id=1)
    assert not scope.covers(name="vit-7", tags={"team": "nlp"}, source_id=1)
    assert not scope.covers(name="vit-7", tags={"team": "vision"}, source_id=2)
    assert domain.Scope().covers(name="anything", tags={}, source_id=3)


@pytest.mark.parametrize(
    "hostile",
    [
        "<!channel>",
        "<!here|here>",
        "<@U123>",
        "<#C1>",
        "<https://evil.example|ok>",
        "[a](https://evil.example)",
        "![i](https://e.example/i.png)",
        "@everyone",
        "@here",
        "a\u202eevil",
        "line\r\nbreak\x00",
    ],
)
def test_neutralised_text_has_no_mention_link_or_control_left(hostile):
    text = domain.neutralise(hostile)
    for token in ("<", ">", "](", "@everyone", "@here", "\u202e", "\x00", "\r"):
        assert token not in text


def test_neutralised_text_is_truncated_with_an_ellipsis():
    assert domain.neutralise("x" * 600, 500) == "x" * 499 + "…"


def test_backoff_doubles_to_a_cap():
    assert [domain.backoff_seconds(n) for n in (1, 2, 3, 10, 20)] == [30, 60, 120, 3600, 3600]


# --- Stalls and budgets ---------------------------------------------------------------


def test_the_p95_is_the_nearest_rank_of_the_histogram():
    assert domain.percentile_from_histogram({}) is None
    assert domain.percentile_from_histogram({60: 1}) == 60
    # 100 samples: the 95th is in the 300-second bucket.
    assert domain.percentile_from_histogram({60: 90, 300: 5, 3600: 5}) == 300
    assert domain.percentile_from_histogram({60: 90, 300: 4, 3600: 6}) == 3600
    # 20 samples: rank ceil(19.0) = 19, not 20 (no float rounding up).
    assert domain.percentile_from_histogram({60: 19, 120: 1}) == 60


@pytest.mark.parametrize(
    ("seconds", "edge"),
    [(0, 60), (59, 60), (60, 120), (3599, 3600), (3600, 4500), (86399, 86400), (86400, 90000), (-5, 60)],
)
def test_durations_fall_in_minute_quarter_and_hour_buckets(seconds, edge):
    assert domain.bucket_edge(seconds) == edge


@pytest.mark.parametrize(
    ("phase", "p95", "samples", "expected"),
    [
        ("Downloading", 1500, 25, (1500, "p95 of 25 phases")),
        ("Downloading", 120, 25, (600, "floor")),  # the floor wins over a short p95
        ("Downloading", 1500, 5, (3600, "default for Downloading")),  # too little history
        ("Training", None, 0, None),  # no history, no default: never a stall
        ("Training", 7200, 20, (7200, "p95 of 20 phases")),
        ("Completed", 60, 100, None),  # not a phase one stalls in
    ],
)
def test_the_stall_threshold(phase, p95, samples, expected):
    threshold = domain.stall_threshold(phase, p95_seconds=p95, samples=samples, floor_seconds=600)
    assert (None if threshold is None else (threshold.seconds, threshold.basis)) == expected


def test_a_stall_event_carries_the_phase_start_and_is_history_before_the_rule():
    start = T
    kwargs = {"phase": "Downloading", "phase_start": start, "threshold_seconds": 600, "rule_created_at": T}
    assert domain.stall_event(now=start + timedelta(seconds=599), **kwargs) is None
    assert domain.stall_event(now=start + timedelta(seconds=600), **kwargs) == f"stall:Downloading@{T.isoformat()}"
    late_rule = {**kwargs, "rule_created_at": T + timedelta(hours=1)}
    assert domain.stall_event(now=start + timedelta(hours=2), **late_rule) is None


def test_over_budget_is_strictly_over_a_positive_budget():
    from decimal import Decimal

    assert domain.over_budget(Decimal("20.01"), Decimal("20"))
    assert not domain.over_budget(Decimal("20"), Decimal("20"))
    assert not domain.over_budget(Decimal("99"), None)
    assert not domain.over_budget(Decimal("99"), Decimal("0"))


def test_a_budget_event_is_per_team_and_day_and_fits_its_column():
    day = T.date()
    assert domain.budget_event("vision", day) == "budget:vision@2026-11-20"
    long_a, long_b = "a" * 200 + "x", "a" * 200 + "y"
    assert len(domain.budget_event(long_a, day)) <= 100
    assert domain.budget_event(long_a, day) != domain.budget_event(long_b, day)


def test_a_budget_message_is_inert_text():
    from decimal import Decimal

    budget = domain.AlertedBudget(
        "team",
        "<!channel>",
        Decimal("30"),
        Decimal("20"),
        "2026-11-20",
        [domain.BudgetJob("[x](http://e)", Decimal("12"), "u")],
    )
    message = domain.render_budgets("r", [budget], key="k")
    assert "<!channel>" not in message.title + message.body
    assert "](" not in message.body
    assert message.fields["budgets"][0]["spend_usd"] == "30"
