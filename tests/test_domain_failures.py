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
