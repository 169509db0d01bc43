import pytest

from jobs.domain.failures import failure_signature


def test_job_specific_details_normalise_to_one_signature():
    a = failure_signature(
        "ClientError: Access Denied for s3://team-a/data/run-17/train.csv "
        "(Service: Amazon S3; Request ID: 8F2A9C1D0E3B)"
    )
    b = failure_signature(
        "ClientError: Access Denied for s3://other/x.csv (Service: Amazon S3; Request ID: 1234567890ABCDEF)"
    )
    assert a == b
    assert "<s3>" in a


def test_numbers_and_names_are_normalised():
    a = failure_signature("AlgorithmError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.78 GiB total)")
    b = failure_signature("AlgorithmError: CUDA out of memory. Tried to allocate 512.00 GiB (GPU 3; 39.40 GiB total)")
    assert a == b


def test_different_causes_stay_apart():
    assert failure_signature("CapacityError: Unable to provision requested ML compute capacity") != failure_signature(
        "AlgorithmError: CUDA out of memory"
    )


def test_empty_reason_has_empty_signature_and_long_ones_are_cut():
    assert failure_signature("") == ""
    assert len(failure_signature("x " * 5000)) <= 300


@pytest.mark.parametrize(
    ("reason", "signature"),
    [
        (
            'AlgorithmError: ExecuteUserScriptError: Command "/usr/local/bin/python3.10 train.py --epochs 10" '
            "exit status 1 (job resnet-50-2026-11-20-12-00-01)",
            'AlgorithmError: ExecuteUserScriptError: Command "<path> train.py --epochs <n>" '
            "exit status <n> (job <name>)",
        ),
        (
            "ClientError: Artifact upload failed: Insufficient disk space on /opt/ml/model/ for "
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:v2-cu118",
            "ClientError: Artifact upload failed: Insufficient disk space on <path> for <image>",
        ),
        (
            "CapacityError: Unable to provision requested ML compute capacity for ml.p4d.24xlarge in us-west-2 "
            "(request 1b4e28ba-2fa1-11d2-883f-0016d3cca427)",
            "CapacityError: Unable to provision requested ML compute capacity for ml.p4d.24xlarge in <name> "
            "(request <id>)",
        ),
        (
            "InternalServerError: connection to 10.0.12.7:8080 reset by peer after 3.5s; node algo-2 lost, "
            "see https://docs.example.org/x?y=1",
            "InternalServerError: connection to <ip> reset by peer after <n>s; node <name> lost, see <url>",
        ),
        (
            "AlgorithmError: job-17-a on host algo-1-xyz: NCCL error deadbeefcafe0123 in "
            "arn:aws:sagemaker:us-east-1:123456789012:training-job/job-17-a",
            "AlgorithmError: <name> on host <name>: NCCL error <hex> in <arn>",
        ),
        ("x1-a-b -a-1 _a-1 1-a-2 a-1--- é-1 Ab-c_d-9x-", "x1-a-b -<name> _a-<n> <n>-<name> <name>--- é-<n> <name>-"),
    ],
)
def test_signatures_of_everyday_reasons(reason, signature):
    """The signatures the quadratic rules gave, kept by the linear ones."""
    assert failure_signature(reason) == signature


@pytest.mark.parametrize(
    ("unit", "normalised"),
    [
        # One run of letters and dashes: each "-b" was a start, scanned to the run's end.
        ("A-b_", "A-b_"),
        ("node-a-", "node-a-"),
        # An ECR registry that never reaches its "/": rescanned from each account id.
        ("123456789012.dkr.ecr.", "<hex>.dkr.ecr."),
    ],
)
@pytest.mark.parametrize("length", [40_000, 400_000])
def test_the_signature_of_a_long_reason_is_linear_in_its_length(unit, normalised, length):
    """A long reason's signature is computed, the run of the name or image rule left as it is.

    The rules were quadratic in a run's length: 40,000 characters took
    seconds and 400,000 characters more than a minute each. Linear now, the
    400,000-character reasons take well under a second: a regression shows as
    a test that runs for minutes (no timed assertion, the machine may be busy).
    """
    reason = "Error: " + unit * (length // len(unit))
    signature = failure_signature(reason)
    assert signature == ("Error: " + normalised * 300)[:300]
