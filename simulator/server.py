"""HTTP front door: SageMaker, CloudWatch, CloudWatch Logs and SQS on one stdlib threading server.

Which service and protocol a request speaks comes from ``wire.route``;
this layer only draws faults, calls the operation and counts.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import cloudwatch, logs, sqs, tuning, wire
from .account import Account, ApiError
from .faults import ERRORS, FaultInjector, malform
from .operations import OPERATIONS, list_training_jobs

TARGET_PREFIX = "SageMaker."
SERVICE_OPERATIONS: dict[str, dict[str, Callable[[Account, dict[str, Any]], dict[str, Any]]]] = {
    "sagemaker": {**OPERATIONS, **tuning.OPERATIONS},
    "cloudwatch": cloudwatch.OPERATIONS,
    "logs": logs.OPERATIONS,
    "sqs": sqs.OPERATIONS,
}


class Stats:
    """Thread-safe counters; ``snapshot()`` hands out copies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._calls: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._errors: Counter[str] = Counter()

    def add(self, kind: str, name: str) -> None:
        with self._lock:
            {"calls": self._calls, "faults": self._faults, "errors": self._errors}[kind][name] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": Counter(self._calls),
                "faults": Counter(self._faults),
                "errors": Counter(self._errors),
                "requests": sum(self._calls.values()),
            }


class Dispatcher:
    """One request -> (HTTP status, body dict) for its route, or None to drop the connection."""

    def __init__(
        self, account: Account, injector: FaultInjector, stats: Stats, filter_after_page: Callable[[], bool]
    ) -> None:
        self.account = account
        self.injector = injector
        self.stats = stats
        self.filter_after_page = filter_after_page

    def handle(self, target: str, raw: bytes) -> tuple[int, dict[str, Any]] | None:
        """A SageMaker JSON 1.1 request by its X-Amz-Target (what tests of that protocol call)."""
        return self.dispatch(wire.route("/", {"X-Amz-Target": target}), raw)

    def dispatch(self, route: wire.Route, raw: bytes) -> tuple[int, dict[str, Any]] | None:
        op = route.op
        self.stats.add("calls", op or route.target or "<none>")
        known = SERVICE_OPERATIONS[route.service]
        if not (op in known or (route.service == "sagemaker" and op == "ListTrainingJobs")):
            return self._error(ApiError("UnknownOperationException", f"Unknown operation {route.target!r}."))
        fault, variant = self.injector.draw()
        latency = self.injector.faults.latency_ms
        if latency > 0:
            time.sleep(latency / 1000)
        if fault == "drop":
            self.stats.add("faults", "drop")
            return None
        if fault is not None:
            self.stats.add("faults", fault)
            code, status, message = ERRORS[fault]
            code = wire.FAULT_CODES.get((route.service, fault), code)
            return status, {"__type": code, "message": message}
        try:
            params = wire.decode(route, raw)
            if op == "ListTrainingJobs":
                body = list_training_jobs(self.account, params, self.filter_after_page())
            else:
                body = known[op](self.account, params)
        except ApiError as e:
            return self._error(e)
        if op == "DescribeTrainingJob" and variant is not None:
            self.stats.add("faults", "malformed")
            body = malform(body, variant)
        elif op == "Search" and variant is not None and body["Results"]:
            # One record of the page breaks the contract; the others are fine.
            self.stats.add("faults", "malformed")
            body["Results"][0] = {"TrainingJob": malform(body["Results"][0]["TrainingJob"], variant)}
        return 200, body

    def _error(self, e: ApiError) -> tuple[int, dict[str, Any]]:
        self.stats.add("errors", e.code)
        return e.status, {"__type": e.code, "message": e.message}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus the
        # client's delayed ACK adds ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        # A readiness probe for scripts; the services themselves only take POST.
        self._send(wire.route("/", {}), 200, {"service": "simulated-sagemaker"})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        route = wire.route(self.path, self.headers)
        result = self.server.dispatcher.dispatch(route, raw)
        if result is None:
            self.close_connection = True
            return
        self._send(route, *result)

    def _send(self, route: wire.Route, status: int, body: dict[str, Any]) -> None:
        data, headers = wire.encode(route, status, body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        super().__init__(address, _Handler)


def make_server(host: str, port: int, dispatcher: Dispatcher) -> ThreadingHTTPServer:
    return _Server((host, port), dispatcher)
