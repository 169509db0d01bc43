import botocore.retries.standard
import botocore.retryhandler
import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

from tests import alert_receiver
from tests.factories import make_source


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False, help="also run the tests marked slow (soaks)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(skip)


@pytest.fixture
def receiver():
    """A loopback HTTP server that records what alert channels post to it (tests/alert_receiver.py)."""
    r = alert_receiver.start()
    yield r
    r.close()


@pytest.fixture(autouse=True)
def _no_figures_from_another_test():
    """The failures and status figures are cached by the newest change's id, which a rolled-back test reuses."""
    cache.clear()


@pytest.fixture(autouse=True)
def _botocore_retries_at_once(monkeypatch):
    """botocore sleeps its exponential backoff between retries; in tests it retries at once.

    The attempts, and what is retried, stay botocore's own (standard and
    adaptive modes share ExponentialBackoff; legacy has delay_exponential).
    """
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    monkeypatch.setattr(botocore.retryhandler, "delay_exponential", lambda **kwargs: 0)


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
