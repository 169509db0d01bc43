import pytest
from django.contrib.auth.models import User

from tests.factories import make_source


@pytest.fixture
def source(db):
    return make_source()


@pytest.fixture
def owner(db) -> User:
    """A superuser: sees and may do everything."""
    return User.objects.create_superuser("owner", "owner@example.org", "password")


@pytest.fixture
def teammate(db) -> User:
    """A plain logged-in user: reads pages, cannot stop jobs."""
    return User.objects.create_user("teammate", "teammate@example.org", "password")


@pytest.fixture
def logged_in(client, teammate):
    """The test client, logged in as a plain teammate."""
    client.force_login(teammate)
    return client


@pytest.fixture
def aws_env(monkeypatch):
    """Dummy credentials so boto3 never looks for real ones."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER"):
        monkeypatch.delenv(name, raising=False)
    from jobs import sagemaker

    sagemaker.reset_clients()
    yield
    sagemaker.reset_clients()


@pytest.fixture
def describe_only(settings):
    """The DescribeTrainingJob path alone: for tests that patch describe_job at our wrapper."""
    settings.TRAINWATCH_SEARCH = False
