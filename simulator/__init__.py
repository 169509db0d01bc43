"""A simulated SageMaker account on loopback, with the CloudWatch metrics and logs of its jobs.

One port speaks SageMaker (JSON 1.1), CloudWatch (JSON 1.0 and rpc-v2-cbor),
CloudWatch Logs (JSON 1.1) and SQS (JSON 1.0: a queue of the jobs'
state-change events, ``sqs.py``), as botocore sends them (``wire.py``).

Stands apart from the Django project (nothing here imports Django); run it
as ``python -m simulator`` (``--help`` lists the flags).
"""

from .clock import Clock
from .faults import Faults
from .sim import SimulatedSageMaker

__all__ = ["Clock", "Faults", "SimulatedSageMaker"]
