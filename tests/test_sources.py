"""jobs/sources.py: the sources the environment asks for, validated, and their rows kept in step."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from jobs.models import Source
from jobs.sources import configured_sources, ensure_configured_sources


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, settings):
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    settings.TRAINWATCH_DEFAULT_SOURCE = True
    settings.TRAINWATCH_EXTRA_SOURCES = []


def test_the_default_source_follows_the_default_region(monkeypatch):
    default = {"name": "default", "region": "", "profile": "", "role_arn": "", "endpoint_url": ""}
    assert configured_sources() == [default]
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert configured_sources()[0]["region"] == "eu-west-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")  # boto3's order: AWS_DEFAULT_REGION first
    assert configured_sources()[0]["region"] == "us-west-2"


def test_no_default_source_when_turned_off(settings):
    settings.TRAINWATCH_DEFAULT_SOURCE = False
    assert configured_sources() == []


def test_extra_sources_fill_missing_keys_with_empty_strings(settings):
    settings.TRAINWATCH_DEFAULT_SOURCE = False
    settings.TRAINWATCH_EXTRA_SOURCES = [
        {"name": "prod", "region": "eu-west-1", "role_arn": "arn:aws:iam::111122223333:role/read"},
        {"name": "lab", "profile": "lab", "endpoint_url": None},
    ]
    assert configured_sources() == [
        {
            "name": "prod",
            "region": "eu-west-1",
            "profile": "",
            "role_arn": "arn:aws:iam::111122223333:role/read",
            "endpoint_url": "",
        },
        {"name": "lab", "region": "", "profile": "lab", "role_arn": "", "endpoint_url": ""},
    ]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"region": "eu-west-1"}, r"TRAINWATCH_EXTRA_SOURCES\[0\] needs a non-empty 'name'"),
        ({"name": ""}, r"TRAINWATCH_EXTRA_SOURCES\[0\] needs a non-empty 'name'"),
        ({"name": 7}, r"TRAINWATCH_EXTRA_SOURCES\[0\] needs a non-empty 'name'"),
        ("prod", r"TRAINWATCH_EXTRA_SOURCES\[0\] needs a non-empty 'name'"),
        ({"name": "prod", "regoin": "x"}, r"TRAINWATCH_EXTRA_SOURCES\[0\] has unknown keys: \['regoin'\]"),
    ],
)
def test_a_bad_extra_source_is_named_by_its_position(settings, item, message):
    settings.TRAINWATCH_DEFAULT_SOURCE = False
    settings.TRAINWATCH_EXTRA_SOURCES = [item]
    with pytest.raises(ImproperlyConfigured, match=message):
        configured_sources()


@pytest.mark.django_db
def test_rows_follow_the_environment_and_admin_sources_are_left_alone(settings):
    settings.TRAINWATCH_EXTRA_SOURCES = [{"name": "prod", "region": "eu-west-1"}]
    Source.objects.create(name="added-in-admin", region="ap-south-1", enabled=False)

    first = ensure_configured_sources()
    assert [s.name for s in first] == ["default", "prod"]

    settings.TRAINWATCH_EXTRA_SOURCES = [{"name": "prod", "region": "eu-central-1", "endpoint_url": "http://vpce"}]
    again = ensure_configured_sources()
    assert [s.pk for s in again] == [s.pk for s in first]  # updated, not duplicated
    prod = Source.objects.get(name="prod")
    assert (prod.region, prod.endpoint_url) == ("eu-central-1", "http://vpce")
    admin = Source.objects.get(name="added-in-admin")
    assert (admin.region, admin.enabled) == ("ap-south-1", False)
    assert Source.objects.count() == 3


@pytest.mark.django_db
def test_the_events_queue_setting_reaches_the_default_source_and_unset_keeps_the_admins(settings):
    settings.TRAINWATCH_EVENTS_QUEUE_URL = "http://127.0.0.1:9/123456789012/trainwatch-events"
    (source,) = ensure_configured_sources()
    assert source.events_queue_url == settings.TRAINWATCH_EVENTS_QUEUE_URL
    Source.objects.filter(pk=source.pk).update(events_queue_url="https://sqs.example/set-in-admin")
    settings.TRAINWATCH_EVENTS_QUEUE_URL = ""
    (source,) = ensure_configured_sources()
    assert source.events_queue_url == "https://sqs.example/set-in-admin"
