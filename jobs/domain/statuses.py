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
# The known statuses of a job still running (Search asks for these by name);
# the database's "running" is wider: anything not TERMINAL, unknown included.
RUNNING = (IN_PROGRESS, STOPPING)

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
