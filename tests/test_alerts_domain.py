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
