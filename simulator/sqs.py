"""An SQS queue of the account's "SageMaker Training Job State Change" events.

What an EventBridge rule targeting a queue would deliver: one event per
transition (status or secondary status) of each job, published once the
account's clock has reached it, so no event names a time later than the
account's now. Served in SQS's JSON 1.0 protocol (``X-Amz-Target:
AmazonSQS.<Op>``): ReceiveMessage (long polling), DeleteMessage,
DeleteMessageBatch, ChangeMessageVisibility, GetQueueUrl, GetQueueAttributes.

Delivery is at least once and unordered, as AWS's is: a received message
not deleted within its visibility timeout comes back, and a small seeded
share of events is sent twice or held back a few seconds (so it lands after
later ones). Visibility is measured on the account's clock, so a frozen
clock's tests step it rather than sleep.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random
from typing import Any

from .account import Account, ApiError
from .rand import key3

QUEUE_NAME = "trainwatch-events"
DEFAULT_VISIBILITY = 30
DUPLICATE_RATE = 0.02
REORDER_RATE = 0.02
REORDER_DELAY = (1.0, 4.0)  # seconds a held-back event waits
# The event detail carries these describe members (plus FailureReason and the times); not billing or metrics.
DETAIL_MEMBERS = (
    "TrainingJobName",
    "TrainingJobArn",
    "TrainingJobStatus",
    "SecondaryStatus",
    "FailureReason",
    "HyperParameters",
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "VpcConfig",
    "StoppingCondition",
    "ModelArtifacts",
    "SecondaryStatusTransitions",
)
TIME_MEMBERS = ("CreationTime", "TrainingStartTime", "TrainingEndTime", "LastModifiedTime")


def _ms(value: float) -> str:
    return str(round(value * 1000))


def event_detail(acct: Account, i: int, t: float) -> dict[str, Any]:
    """Job i's event detail at time t: describe-shaped, times as epoch-millisecond strings, Tags a map."""
    d = acct.describe(i, t)
    detail = {k: d[k] for k in DETAIL_MEMBERS if k in d}
    for k in TIME_MEMBERS:
        if d.get(k) is not None:
            detail[k] = _ms(d[k])
    detail["SecondaryStatusTransitions"] = [
        {**tr, **{k: _ms(tr[k]) for k in ("StartTime", "EndTime") if k in tr}}
        for tr in d.get("SecondaryStatusTransitions", [])
    ]
    detail["Tags"] = {tag["Key"]: tag["Value"] for tag in acct.renderer.tags(i)}
    return detail


def state_change_event(acct: Account, i: int, t: float) -> dict[str, Any]:
    detail = event_detail(acct, i, t)
    return {
        "version": "0",
        "id": str(uuid.UUID(int=Random(key3(acct.population.seed, i, int(t * 1000))).getrandbits(128))),
        "detail-type": "SageMaker Training Job State Change",
        "source": "aws.sagemaker",
        "account": acct.account_id,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
        "region": acct.region,
        "resources": [detail["TrainingJobArn"]],
        "detail": detail,
    }


@dataclass
class _Message:
    id: str
    body: str
    sent: float
    visible_at: float
    receives: int = 0
    first_receive: float | None = None
    handles: set[str] = field(default_factory=set)


class EventQueue:
    """The queue and its publisher: transitions up to the clock's now become messages."""

    def __init__(
        self,
        acct: Account,
        *,
        seed: int = 0,
        duplicate_rate: float = DUPLICATE_RATE,
        reorder_rate: float = REORDER_RATE,
    ) -> None:
        self.acct = acct
        self.duplicate_rate = duplicate_rate
        self.reorder_rate = reorder_rate
        self._rng = Random(seed)
        self._lock = threading.Lock()
        self._messages: dict[str, _Message] = {}
        self._by_handle: dict[str, str] = {}
        self._published_to = acct.clock.timestamp()  # events before the queue existed are not sent
        self._known = acct.count(self._published_to)
        self._next: list[tuple[float, int]] = []  # (next transition time, job)
        self._cursor: dict[int, float] = {}  # job -> time of its last published transition
        for i in range(self._known):
            # What already happened is not sent: the cursor is each job's latest transition by now.
            starts = [e.start for e in acct.events(i)[1] if e.start <= self._published_to]
            self._cursor[i] = starts[-1] if starts else self._published_to
            self._schedule(i)
        acct.stop_listeners.append(self._stopped)
        self.published = 0

    # --- publishing ---------------------------------------------------------------
    def _schedule(self, i: int) -> None:
        after = self._cursor[i]
        nxt = next((e.start for e in self.acct.events(i)[1] if e.start > after), None)
        if nxt is not None:
            heapq.heappush(self._next, (nxt, i))

    def _stopped(self, i: int, t: float) -> None:
        with self._lock:
            if i in self._cursor:
                heapq.heappush(self._next, (t, i))

    def publish(self) -> None:
        """Turn every transition up to the clock's now into a message."""
        with self._lock:
            now = self.acct.clock.timestamp()
            count = self.acct.count(now)
            for i in range(self._known, count):
                # A job created since: its first transition is its creation.
                self._cursor[i] = self.acct.population.creation(i) - 1e-6
                self._schedule(i)
            self._known = max(self._known, count)
            while self._next and self._next[0][0] <= now:
                _, i = heapq.heappop(self._next)
                after = self._cursor[i]
                due = [e.start for e in self.acct.events(i)[1] if after < e.start <= now]
                for t in due:
                    self._send(json.dumps(state_change_event(self.acct, i, t)), now)
                if due:
                    self._cursor[i] = due[-1]
                self._schedule(i)
            self._published_to = now

    def _send(self, body: str, now: float) -> None:
        copies = 2 if self._rng.random() < self.duplicate_rate else 1
        for _ in range(copies):
            delay = self._rng.uniform(*REORDER_DELAY) if self._rng.random() < self.reorder_rate else 0.0
            mid = str(uuid.UUID(int=self._rng.getrandbits(128)))
            self._messages[mid] = _Message(mid, body, now, now + delay)
            self.published += 1

    # --- consuming ------------------------------------------------------------------
    def receive(self, limit: int, visibility: int) -> list[dict[str, Any]]:
        self.publish()
        with self._lock:
            now = self.acct.clock.timestamp()
            ready = sorted((m for m in self._messages.values() if m.visible_at <= now), key=lambda m: m.visible_at)
            out = []
            for m in ready[:limit]:
                m.receives += 1
                m.first_receive = m.first_receive or now
                m.visible_at = now + visibility
                handle = f"{m.id}#{uuid.UUID(int=self._rng.getrandbits(128)).hex}"
                m.handles.add(handle)
                self._by_handle[handle] = m.id
                out.append(_wire(m, handle))
            return out

    def _message_of(self, handle: Any) -> _Message | None:
        """The message a handle names (None once deleted); ApiError for a handle never issued."""
        if not isinstance(handle, str) or handle not in self._by_handle:
            raise ApiError(
                "ReceiptHandleIsInvalid", f'The input receipt handle "{handle}" is not a valid receipt handle.'
            )
        return self._messages.get(self._by_handle[handle])

    def delete(self, handle: Any) -> None:
        with self._lock:
            m = self._message_of(handle)
            if m is not None:  # deleting twice succeeds, as AWS's does
                del self._messages[m.id]

    def change_visibility(self, handle: Any, timeout: int) -> None:
        with self._lock:
            m = self._message_of(handle)
            if m is None or m.visible_at <= self.acct.clock.timestamp():
                raise ApiError(
                    "MessageNotInflight", "Message does not exist or is not available for visibility timeout change."
                )
            m.visible_at = self.acct.clock.timestamp() + timeout

    def counts(self) -> tuple[int, int]:
        """(visible, in flight) messages."""
        self.publish()
        with self._lock:
            now = self.acct.clock.timestamp()
            visible = sum(1 for m in self._messages.values() if m.visible_at <= now)
            return visible, len(self._messages) - visible


def _wire(m: _Message, handle: str) -> dict[str, Any]:
    return {
        "MessageId": m.id,
        "ReceiptHandle": handle,
        "MD5OfBody": hashlib.md5(m.body.encode(), usedforsecurity=False).hexdigest(),
        "Body": m.body,
        "Attributes": {
            "SenderId": "AIDAEVENTBRIDGE",
            "SentTimestamp": _ms(m.sent),
            "ApproximateReceiveCount": str(m.receives),
            "ApproximateFirstReceiveTimestamp": _ms(m.first_receive or m.sent),
        },
    }


# --- operations ------------------------------------------------------------------------
def queue_of(acct: Account) -> EventQueue:
    q = getattr(acct, "events_queue", None)
    if q is None:
        with acct._lock:
            q = getattr(acct, "events_queue", None)
            if q is None:
                q = EventQueue(acct, seed=acct.population.seed)
                acct.events_queue = q  # type: ignore[attr-defined]
    return q


def queue_url(acct: Account) -> str:
    return f"{getattr(acct, 'endpoint_url', 'http://127.0.0.1')}/{acct.account_id}/{QUEUE_NAME}"


def _queue(acct: Account, p: dict[str, Any]) -> EventQueue:
    url = p.get("QueueUrl")
    if not isinstance(url, str) or not url.rstrip("/").endswith(f"/{acct.account_id}/{QUEUE_NAME}"):
        raise ApiError("QueueDoesNotExist", "The specified queue does not exist.")
    return queue_of(acct)


def _int(p: dict[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    value = p.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ApiError(
            "InvalidParameterValue", f"Value {value} for parameter {name} is invalid. Must be between {lo} and {hi}."
        )
    return value


def receive_message(acct: Account, p: dict[str, Any]) -> dict[str, Any]:
    q = _queue(acct, p)
    limit = _int(p, "MaxNumberOfMessages", 1, 1, 10)
    wait = _int(p, "WaitTimeSeconds", 0, 0, 20)
    visibility = _int(p, "VisibilityTimeout", DEFAULT_VISIBILITY, 0, 43_200)
    deadline = time.monotonic() + wait
    while True:
        messages = q.receive(limit, visibility)
        if messages or time.monotonic() >= deadline:
            break
        time.sleep(0.05)  # long polling: answer as soon as an event is due
    return {"Messages": messages} if messages else {}


def delete_message(acct: Account, p: dict[str, Any]) -> dict[str, Any]:
    _queue(acct, p).delete(p.get("ReceiptHandle"))
    return {}


def _batch(acct: Account, p: dict[str, Any], one: Callable[[EventQueue, dict[str, Any]], None]) -> dict[str, Any]:
    q = _queue(acct, p)
    entries = p.get("Entries")
    if not isinstance(entries, list) or not entries:
        raise ApiError("EmptyBatchRequest", "There should be at least one entry in the request.")
    if len(entries) > 10:
        raise ApiError(
            "TooManyEntriesInBatchRequest",
            f"Maximum number of entries per request are 10. You have sent {len(entries)}.",
        )
    ok, failed = [], []
    for entry in entries:
        try:
            one(q, entry)
            ok.append({"Id": entry["Id"]})
        except ApiError as e:
            failed.append({"Id": entry["Id"], "SenderFault": True, "Code": e.code, "Message": e.message})
    return {"Successful": ok, "Failed": failed}


def delete_message_batch(acct: Account, p: dict[str, Any]) -> dict[str, Any]:
    return _batch(acct, p, lambda q, e: q.delete(e.get("ReceiptHandle")))


def change_message_visibility(acct: Account, p: dict[str, Any]) -> dict[str, Any]:
    _queue(acct, p).change_visibility(p.get("ReceiptHandle"), _int(p, "VisibilityTimeout", 0, 0, 43_200))
    return {}


def get_queue_url(acct: Account, p: dict[str, Any]) -> dict[str, Any]:
    if p.get("QueueName") != QUEUE_NAME:
        raise ApiError("QueueDoesNotExist", "The specified queue does not exist.")
    return {"QueueUrl": queue_url(acct)}


def get_queue_attributes(acct: Account, p: dict[str, Any]) -> dict[str, Any]:
    visible, in_flight = _queue(acct, p).counts()
    attrs = {
        "QueueArn": f"arn:aws:sqs:{acct.region}:{acct.account_id}:{QUEUE_NAME}",
        "ApproximateNumberOfMessages": str(visible),
        "ApproximateNumberOfMessagesNotVisible": str(in_flight),
        "VisibilityTimeout": str(DEFAULT_VISIBILITY),
        "ReceiveMessageWaitTimeSeconds": "0",
    }
    names = p.get("AttributeNames") or ["All"]
    return {"Attributes": attrs if "All" in names else {k: v for k, v in attrs.items() if k in names}}


OPERATIONS: dict[str, Callable[[Account, dict[str, Any]], dict[str, Any]]] = {
    "ReceiveMessage": receive_message,
    "DeleteMessage": delete_message,
    "DeleteMessageBatch": delete_message_batch,
    "ChangeMessageVisibility": change_message_visibility,
    "GetQueueUrl": get_queue_url,
    "GetQueueAttributes": get_queue_attributes,
}
