"""The four AWS protocols the simulated account speaks, as botocore sends them.

- SageMaker: JSON 1.1, ``X-Amz-Target: SageMaker.<Op>``.
- CloudWatch Logs: JSON 1.1, ``X-Amz-Target: Logs_20140328.<Op>``.
- SQS: JSON 1.0, ``X-Amz-Target: AmazonSQS.<Op>``, query compatible like CloudWatch.
- CloudWatch: its model lists smithy-rpc-v2-cbor, JSON 1.0 and query;
  botocore 1.44 picks JSON 1.0 (``X-Amz-Target:
  GraniteServiceVersion20100801.<Op>``), newer clients may pick rpc-v2-cbor
  (``POST /service/GraniteServiceVersion20100801/operation/<Op>``, CBOR
  bodies, timestamps as tag 1). Both are served. CloudWatch is "query
  compatible": errors also name their old query code and fault in
  ``x-amzn-query-error`` (``Throttling;Sender``), which botocore reports as
  the error code.

Operations see plain dicts with epoch-second timestamps either way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

import cbor2

from .account import ApiError

CLOUDWATCH_TARGET = "GraniteServiceVersion20100801"
CBOR_PATH = f"/service/{CLOUDWATCH_TARGET}/operation/"
_TARGETS = {"SageMaker": "sagemaker", "Logs_20140328": "logs", CLOUDWATCH_TARGET: "cloudwatch", "AmazonSQS": "sqs"}

# Fault codes where a service's differ from SageMaker's (faults.ERRORS).
FAULT_CODES = {
    ("cloudwatch", "throttle"): "Throttling",
    ("cloudwatch", "server_error"): "InternalServiceError",
    ("logs", "server_error"): "ServiceUnavailableException",
    ("sqs", "throttle"): "RequestThrottled",
    ("sqs", "server_error"): "InternalFailure",
}
# Members of CloudWatch responses that are timestamps (tag 1 in CBOR).
_CBOR_TIMESTAMPS = frozenset({"Timestamps", "Timestamp"})


class Route(NamedTuple):
    service: str  # sagemaker | cloudwatch | logs | sqs
    op: str  # "" when the request names no operation this service knows
    protocol: str  # json1.1 | json1.0 | cbor
    target: str  # what the request said, for error messages


def route(path: str, headers: Mapping[str, str]) -> Route:
    if path.startswith(CBOR_PATH):
        return Route("cloudwatch", path[len(CBOR_PATH) :].split("?", 1)[0], "cbor", path)
    target = headers.get("X-Amz-Target", "") or ""
    prefix, _, op = target.partition(".")
    service = _TARGETS.get(prefix)
    if service is None:
        return Route("sagemaker", "", "json1.1", target)
    return Route(service, op, "json1.0" if service in ("cloudwatch", "sqs") else "json1.1", target)


def _epochs(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _epochs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_epochs(v) for v in value]
    if isinstance(value, datetime):
        return value.timestamp()
    return value


def decode(r: Route, raw: bytes) -> dict[str, Any]:
    """The request's parameters; ApiError(SerializationException) when the body is not a structure."""
    if r.protocol == "cbor":
        try:
            params = cbor2.loads(raw) if raw else {}
        except (cbor2.CBORDecodeError, ValueError) as exc:
            raise ApiError("SerializationException", f"Request body is not valid CBOR: {exc}") from None
        params = _epochs(params)
    else:
        try:
            params = json.loads(raw or b"{}")
        except ValueError:
            raise ApiError("SerializationException", "Request body is not valid JSON.") from None
    if not isinstance(params, dict):
        raise ApiError("SerializationException", "Request body must be a structure.")
    return params


def _tagged(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _tagged(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_tagged(v, key) for v in value]
    if key in _CBOR_TIMESTAMPS and isinstance(value, (int, float)):
        return cbor2.CBORTag(1, value)
    return value


def encode(r: Route, status: int, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """Response bytes and headers (less Content-Length and request id)."""
    headers: dict[str, str] = {}
    if r.service in ("cloudwatch", "sqs") and status >= 400 and "__type" in body:
        fault = "Sender" if status < 500 else "Receiver"
        headers["x-amzn-query-error"] = f"{body['__type']};{fault}"
    if r.protocol == "cbor":
        headers["Content-Type"] = "application/cbor"
        headers["smithy-protocol"] = "rpc-v2-cbor"
        return cbor2.dumps(_tagged(body)), headers
    headers["Content-Type"] = "application/x-amz-json-1.0" if r.protocol == "json1.0" else "application/x-amz-json-1.1"
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(), headers
