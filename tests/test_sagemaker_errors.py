"""jobs/sagemaker.py turns botocore's errors into ours: NotFound, retryable or not, the code kept."""

from __future__ import annotations

import botocore.endpoint
import botocore.exceptions
import botocore.parsers
import pytest
from botocore.stub import Stubber

from jobs import sagemaker
from jobs.sagemaker import NotFound, SageMakerError, SourceConfig
from simulator import Faults, SimulatedSageMaker

CONFIG = SourceConfig(region="us-east-1")


def client_error(code: str, message: str = "boom", status: int = 400) -> botocore.exceptions.ClientError:
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return botocore.exceptions.ClientError(response, "DescribeTrainingJob")


@pytest.mark.parametrize("code", sorted(sagemaker.THROTTLING_CODES))
def test_throttling_is_retryable(code):
    error = sagemaker._translate(client_error(code, "Rate exceeded"))
    assert type(error) is SageMakerError
    assert error.retryable
    assert error.code == code
    assert str(error) == f"{code}: Rate exceeded"


@pytest.mark.parametrize(("code", "status"), [("InternalFailure", 500), ("ServiceUnavailable", 503), ("", 502)])
def test_server_errors_are_retryable(code, status):
    error = sagemaker._translate(client_error(code, status=status))
    assert error.retryable
    assert error.code == code


@pytest.mark.parametrize(
    "message", ["Requested resource not found.", "Could not find requested job with name x", "Job NOT FOUND"]
)
def test_a_missing_job_is_not_found(message):
    error = sagemaker._translate(client_error("ValidationException", message))
    assert isinstance(error, NotFound)
    assert not error.retryable
    assert str(error) == message


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ValidationException", "1 validation error detected: Value at 'trainingJobName' failed"),
        ("AccessDeniedException", "User is not authorized to perform: sagemaker:DescribeTrainingJob"),
        ("ResourceLimitExceeded", "too many"),
        ("UnrecognizedClientException", "The security token included in the request is invalid."),
    ],
)
def test_client_errors_are_not_retryable(code, message):
    error = sagemaker._translate(client_error(code, message))
    assert type(error) is SageMakerError
    assert not error.retryable
    assert error.code == code
    assert str(error) == f"{code}: {message}"


def test_a_client_error_without_details_still_translates():
    error = sagemaker._translate(botocore.exceptions.ClientError({}, "ListTrainingJobs"))
    assert type(error) is SageMakerError
    assert (error.code, error.retryable) == ("", False)


@pytest.mark.parametrize(
    "exc",
    [
        botocore.exceptions.NoCredentialsError(),
        botocore.exceptions.NoRegionError(),
        botocore.exceptions.ProfileNotFound(profile="nope"),
        botocore.exceptions.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
        botocore.exceptions.ParamValidationError(report="Invalid length for parameter TrainingJobName"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_configuration_errors_are_not_retryable_and_keep_their_name(exc):
    error = sagemaker._translate(exc)
    assert type(error) is SageMakerError
    assert not error.retryable
    assert error.code == type(exc).__name__
    assert str(error) == str(exc)


@pytest.mark.parametrize(
    "exc",
    [
        botocore.exceptions.EndpointConnectionError(endpoint_url="https://api.sagemaker"),
        botocore.exceptions.ConnectTimeoutError(endpoint_url="https://api.sagemaker"),
        botocore.exceptions.ReadTimeoutError(endpoint_url="https://api.sagemaker"),
        botocore.exceptions.ConnectionClosedError(endpoint_url="https://api.sagemaker"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_network_errors_are_retryable_connection_errors(exc):
    error = sagemaker._translate(exc)
    assert error.retryable
    assert error.code == "ConnectionError"
    assert str(error).startswith("cannot reach SageMaker: ")


@pytest.mark.parametrize(
    "exc",
    [botocore.parsers.ResponseParserError("Unable to parse response"), ValueError("Invalid timestamp 'soon'")],
    ids=["ResponseParserError", "ValueError"],
)
def test_unreadable_responses_are_retryable_and_marked(exc):
    error = sagemaker._translate(exc)
    assert error.retryable
    assert error.code == sagemaker.UNREADABLE
    assert str(error).startswith("unreadable response: ")


def test_anything_else_is_raised_as_it_was():
    bug = KeyError("TrainingJobName")
    with pytest.raises(KeyError) as caught:
        sagemaker._translate(bug)
    assert caught.value is bug


# --- through the wrapper, with botocore's own client --------------------------


@pytest.fixture
def stub(aws_env):
    with Stubber(sagemaker.client_for(CONFIG)) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_the_wrapper_raises_our_errors_with_botocores_as_cause(stub):
    stub.add_client_error(
        "describe_training_job",
        service_error_code="ValidationException",
        service_message="Requested resource not found.",
        http_status_code=400,
    )
    stub.add_client_error("list_tags", service_error_code="ThrottlingException", http_status_code=400)
    with pytest.raises(NotFound) as missing:
        sagemaker.describe_job(CONFIG, "gone")
    assert isinstance(missing.value.__cause__, botocore.exceptions.ClientError)
    with pytest.raises(SageMakerError) as throttled:
        sagemaker.list_tags(CONFIG, "arn:aws:sagemaker:us-east-1:123456789012:training-job/x")
    assert throttled.value.retryable


def test_a_parameter_botocore_refuses_is_not_retried(aws_env):
    # Refused before anything is sent (so no stub is needed): it would fail
    # the same way every time.
    with pytest.raises(SageMakerError) as caught:
        sagemaker.describe_job(CONFIG, 123)  # type: ignore[arg-type]
    assert caught.value.code == "ParamValidationError"
    assert not caught.value.retryable


def test_botocore_retries_throttling_then_ours_is_retryable(aws_env, settings, monkeypatch):
    settings.AWS_RETRY_MODE = "standard"
    settings.AWS_MAX_ATTEMPTS = 3
    waited: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", waited.append)
    with SimulatedSageMaker(jobs=1, seed=1, speed=0, faults=Faults(throttle_rate=1.0)) as sim:
        sagemaker.reset_clients()
        with pytest.raises(SageMakerError) as caught:
            sagemaker.describe_job(SourceConfig(region="us-east-1", endpoint_url=sim.endpoint_url), "any")
        assert sim.stats["calls"]["DescribeTrainingJob"] == 3
    assert caught.value.retryable and caught.value.code == "ThrottlingException"
    assert waited == [0, 0]  # botocore's backoff, zeroed for tests by conftest
