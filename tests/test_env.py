"""dashboard/env.py: settings from the environment accept what they should and name what they reject."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from dashboard.env import EX_CONFIG, envbool, envdatabase, envint, envjson, one_line_config_errors

NAME = "TRAINWATCH_TEST_SETTING"


@pytest.fixture
def setting(monkeypatch):
    def set_(value: str | None) -> None:
        if value is None:
            monkeypatch.delenv(NAME, raising=False)
        else:
            monkeypatch.setenv(NAME, value)

    set_(None)
    return set_


@pytest.mark.parametrize("value", ["1", "true", "True", "YES", "on", " on "])
def test_envbool_accepts_true(setting, value):
    setting(value)
    assert envbool(NAME, "False") is True


@pytest.mark.parametrize("value", ["0", "false", "FALSE", "no", "off", ""])
def test_envbool_accepts_false(setting, value):
    setting(value)
    assert envbool(NAME, "True") is False


def test_envbool_default_when_unset(setting):
    assert envbool(NAME, "True") is True
    assert envbool(NAME, "off") is False


@pytest.mark.parametrize("value", ["maybe", "2", "y", "tru"])
def test_envbool_rejects_anything_else_naming_the_variable(setting, value):
    setting(value)
    with pytest.raises(ImproperlyConfigured, match=rf"^{NAME}='{value}' is not a boolean"):
        envbool(NAME, "False")


@pytest.mark.parametrize(("value", "expected"), [("42", 42), (" 7 ", 7), ("-3", -3), ("0", 0)])
def test_envint_accepts_whole_numbers(setting, value, expected):
    setting(value)
    assert envint(NAME, "1") == expected


def test_envint_default_when_unset(setting):
    assert envint(NAME, "60", minimum=5) == 60


@pytest.mark.parametrize("value", ["abc", "4.5", "", "1e3", "10s"])
def test_envint_rejects_what_is_not_a_whole_number(setting, value):
    setting(value)
    with pytest.raises(ImproperlyConfigured, match=rf"^{NAME}='{value}' is not a whole number"):
        envint(NAME, "1")


def test_envint_enforces_the_minimum(setting):
    setting("4")
    with pytest.raises(ImproperlyConfigured, match=rf"^{NAME}=4 must be at least 5$"):
        envint(NAME, "60", minimum=5)
    setting("5")
    assert envint(NAME, "60", minimum=5) == 5


def test_envjson_parses_and_defaults(setting):
    assert envjson(NAME, "[]") == []
    setting('[{"name": "prod", "region": "eu-west-1"}]')
    assert envjson(NAME, "[]") == [{"name": "prod", "region": "eu-west-1"}]


@pytest.mark.parametrize("value", ["[{", "{'a': 1}", "", "nope"])
def test_envjson_rejects_invalid_json(setting, value):
    setting(value)
    with pytest.raises(ImproperlyConfigured, match=rf"^{NAME} is not valid JSON: "):
        envjson(NAME, "[]")


def test_envdatabase_reads_urls(setting):
    assert envdatabase(NAME, "sqlite:////tmp/x.sqlite3")["ENGINE"] == "django.db.backends.sqlite3"
    setting("postgres://tw:secret@db.internal:6432/trainwatch")
    db = envdatabase(NAME, "sqlite:////tmp/x.sqlite3", conn_max_age=30)
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["HOST"], db["PORT"], db["NAME"], db["USER"], db["CONN_MAX_AGE"]) == (
        "db.internal",
        6432,
        "trainwatch",
        "tw",
        30,
    )


@pytest.mark.parametrize("value", ["nosuchdb://tw:secret@host/db", "postgres://tw:secret@host:port/db"])
def test_envdatabase_rejects_bad_urls_without_echoing_them(setting, value):
    setting(value)
    with pytest.raises(ImproperlyConfigured, match=rf"^{NAME} is not a database URL") as caught:
        envdatabase(NAME, "sqlite:////tmp/x.sqlite3")
    assert "secret" not in str(caught.value)


def test_a_bad_setting_becomes_one_line_and_exit_78(capsys):
    with pytest.raises(SystemExit) as exited, one_line_config_errors():
        raise ImproperlyConfigured("PORT='x' is not a port")
    assert exited.value.code == EX_CONFIG == 78
    assert capsys.readouterr().err == "trainwatch: bad setting: PORT='x' is not a port\n"


def test_other_errors_pass_through(capsys):
    with pytest.raises(KeyError), one_line_config_errors():
        raise KeyError("not a setting")
    assert capsys.readouterr().err == ""
