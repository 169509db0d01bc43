"""SageMaker's status vocabularies, defined once.

AWS adds secondary statuses over time ("subject to change"), so these sets
describe what we know, never what we accept: unknown values are stored.
"""

IN_PROGRESS = "InProgress"
COMPLETED = "Completed"
FAILED = "Failed"
STOPPING = "Stopping"
STOPPED = "Stopped"
DELETING = "Deleting"

TRAINING_JOB_STATUSES = (IN_PROGRESS, COMPLETED, FAILED, STOPPING, STOPPED, DELETING)
TERMINAL = frozenset({COMPLETED, FAILED, STOPPED})

SECONDARY_STATUSES = (
    "Starting",
    "Pending",
    "LaunchingMLInstances",
    "PreparingTrainingStack",
    "Downloading",
    "DownloadingTrainingImage",
    "Training",
    "Uploading",
    "Stopping",
    "Stopped",
    "MaxRuntimeExceeded",
    "MaxWaitTimeExceeded",
    "Completed",
    "Failed",
    "Interrupted",
    "Updating",
    "Restarting",
)
# Secondary statuses that end a run (possibly followed by a restart).
SECONDARY_TERMINAL = frozenset({"Stopped", "MaxRuntimeExceeded", "MaxWaitTimeExceeded", "Completed", "Failed"})


def is_terminal(status: str) -> bool:
    return status in TERMINAL
