"""Vocabulary of the simulated account: instance types, images, messages.

Kept apart from the generators so the wording can be tuned without touching
the timeline logic. Message texts follow what AWS shows today; the product
must only display them, never branch on them.
"""

from __future__ import annotations

# (instance type, weight, is_gpu)
INSTANCE_TYPES: tuple[tuple[str, int, bool], ...] = (
    ("ml.m5.xlarge", 18, False),
    ("ml.m5.4xlarge", 8, False),
    ("ml.c5.2xlarge", 10, False),
    ("ml.c5.xlarge", 6, False),
    ("ml.g4dn.xlarge", 12, True),
    ("ml.g5.2xlarge", 12, True),
    ("ml.g5.12xlarge", 5, True),
    ("ml.p3.2xlarge", 10, True),
    ("ml.p3.16xlarge", 3, True),
    ("ml.p4d.24xlarge", 4, True),
    ("ml.p5.48xlarge", 1, True),
    ("ml.trn1.32xlarge", 2, True),
)

# InstancePreferences lists in priority order: either every entry has its own count (equivalent
# compute on each type) or none has, and ResourceConfig.InstanceCount applies to the one selected.
PREFERENCE_LADDERS: tuple[tuple[tuple[str, int | None], ...], ...] = (
    (("ml.p5.48xlarge", 1), ("ml.p4d.24xlarge", 2), ("ml.g5.12xlarge", 8)),
    (("ml.p4d.24xlarge", 1), ("ml.p3.16xlarge", 2)),
    (("ml.g5.2xlarge", None), ("ml.g4dn.xlarge", None), ("ml.p3.2xlarge", None)),
    (("ml.c5.2xlarge", None), ("ml.m5.4xlarge", None), ("ml.m5.xlarge", None)),
)

# family -> (name prefix, image template or None for built-in algorithm, metrics)
FAMILIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "pytorch": (
        "pytorch-training",
        "763104351884.dkr.ecr.{region}.amazonaws.com/pytorch-training:2.3.0-gpu-py311-cu121-ubuntu20.04-sagemaker",
        ("train:loss", "validation:loss", "validation:accuracy"),
    ),
    "huggingface": (
        "huggingface-pytorch-training",
        "763104351884.dkr.ecr.{region}.amazonaws.com/huggingface-pytorch-training:2.1.0-transformers4.36.0-gpu-py310-cu121-ubuntu20.04",
        ("train:loss", "eval:loss", "eval:f1", "train:learning_rate"),
    ),
    "tensorflow": (
        "tensorflow-training",
        "763104351884.dkr.ecr.{region}.amazonaws.com/tensorflow-training:2.14.1-gpu-py310-cu118-ubuntu20.04-sagemaker",
        ("train:loss", "validation:loss", "validation:accuracy"),
    ),
    "xgboost": (
        "sagemaker-xgboost",
        "683313688378.dkr.ecr.{region}.amazonaws.com/sagemaker-xgboost:1.7-1",
        ("train:rmse", "validation:rmse", "validation:auc"),
    ),
    "custom": (
        "churn-model",
        "{account}.dkr.ecr.{region}.amazonaws.com/churn-trainer:v{version}",
        ("train:loss", "validation:auc"),
    ),
    "marketplace": (
        "fraud-detector",
        "",  # uses AlgorithmName instead of an image
        ("validation:auc",),
    ),
}
FAMILY_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("pytorch", 35),
    ("huggingface", 20),
    ("tensorflow", 10),
    ("xgboost", 20),
    ("custom", 12),
    ("marketplace", 3),
)

TEAMS = ("ml-platform", "search", "recsys", "fraud", "vision", "nlp")
PROJECTS = ("churn", "ranking", "fraud-detector", "llm-finetune", "image-classifier", "demand-forecast")
OWNERS = ("alice@example.com", "bob@example.com", "chen@example.com", "dara@example.com")
BUCKETS = ("acme-ml-data", "acme-sagemaker-prod", "sagemaker-us-east-1-123456789012")

MSG = {
    "Starting": "Preparing the instances for training",
    "Pending": "Waiting for capacity to become available",
    "LaunchingMLInstances": "Launching requested ML instances",
    "LaunchingMLInstancesRetry": "Insufficient capacity error from EC2 while launching instances, retrying!",
    "LaunchingMLInstancesNextPreference": (
        "Insufficient capacity error from EC2 for {itype}, launching the next instance type in InstancePreferences"
    ),
    "SpotCapacityWait": "Waiting for spot capacity to launch the requested ML instances",
    "StartingWarmPool": "Reusing instances from a matching warm pool",
    "PreparingTrainingStack": "Preparing the training stack",
    "Downloading": "Downloading input data",
    "DownloadingTrainingImage": "Downloading the training image",
    "Training": "Training image download completed. Training in progress.",
    "TrainingResumed": "Training resumed from the latest checkpoint",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    "Interrupted": "Training job interrupted due to spot capacity reclaim. Waiting for spot capacity",
    "Restarting": "Restarting the training job after an internal server error",
    "MaxRuntimeExceeded": "Training job runtime exceeded MaxRuntimeInSeconds provided",
    "MaxWaitTimeExceeded": "Training job wait time exceeded MaxWaitTimeInSeconds provided",
    "Failed": "Training job failed",
}

OOM_TAIL = (
    "AlgorithmError: ExecuteUserScriptError:\n"
    "ExitCode 1\n"
    'ErrorMessage "Traceback (most recent call last):\n'
    '  File "/opt/ml/code/train.py", line {line}, in <module>\n'
    "    main(args)\n"
    '  File "/opt/ml/code/train.py", line {line2}, in main\n'
    "    loss.backward()\n"
    "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.78 GiB total capacity; "
    "13.21 GiB already allocated; 1.12 GiB free; 13.90 GiB reserved in total by PyTorch) "
    'If reserved memory is >> allocated memory try setting max_split_size_mb to avoid fragmentation."\n'
    'Command "/opt/conda/bin/python3.11 train.py --epochs {epochs}", exit code: 1'
)
KEYERROR_TAIL = (
    "AlgorithmError: ExecuteUserScriptError:\n"
    "ExitCode 1\n"
    'ErrorMessage "Traceback (most recent call last):\n'
    '  File "/opt/ml/code/prepare.py", line {line}, in <module>\n'
    '    df = load_features("<features>")\n'
    "KeyError: 'customer_id' — column missing in input <b>features.csv</b>\"\n"
    'Command "/opt/conda/bin/python3.11 prepare.py", exit code: 1'
)
NAN_TAIL = (
    "AlgorithmError: ExecuteUserScriptError:\n"
    "ExitCode 1\n"
    'ErrorMessage "ValueError: Loss became NaN at step {line} (lr={lr}) ✗"\n'
    'Command "/opt/conda/bin/python3.11 train.py", exit code: 1'
)
S3_DENIED = (
    "ClientError: Data download failed:AccessDenied (403): Access Denied. Please ensure the "
    "IAM role {role} has s3:GetObject permission on s3://{bucket}/{path}"
)
BAD_IMAGE = (
    "ClientError: Requested image {image} not found or SageMaker does not have "
    "permission to pull it. Please check the image URI and repository policy."
)
CAPACITY = (
    "CapacityError: Unable to provision requested ML compute capacity. Please retry using a different ML instance type."
)
RESOURCE_LIMIT = (
    "ResourceLimitExceeded: The account-level service limit '{itype} for training job usage' "
    "is {limit} Instances, with current utilization of {limit} Instances and a request delta "
    "of {count} Instances. Please use AWS Service Quotas to request an increase for this quota."
)
INTERNAL = "InternalServerError: We encountered an internal error. Please try again."

# instance type -> (vCPUs, GPUs, memory GiB). Trainium's NeuronCores are no GPUs: SageMaker
# publishes no GPUUtilization for them.
HARDWARE: dict[str, tuple[int, int, int]] = {
    "ml.m5.xlarge": (4, 0, 16),
    "ml.m5.4xlarge": (16, 0, 64),
    "ml.c5.2xlarge": (8, 0, 16),
    "ml.c5.xlarge": (4, 0, 8),
    "ml.g4dn.xlarge": (4, 1, 16),
    "ml.g5.2xlarge": (8, 1, 32),
    "ml.g5.12xlarge": (48, 4, 192),
    "ml.p3.2xlarge": (8, 1, 61),
    "ml.p3.16xlarge": (64, 8, 488),
    "ml.p4d.24xlarge": (96, 8, 1152),
    "ml.p5.48xlarge": (192, 8, 2048),
    "ml.trn1.32xlarge": (128, 0, 512),
}
