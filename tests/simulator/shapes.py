"""Check a response against botocore's model of a service (SageMaker unless named), beyond ParamValidator.

ParamValidator covers types, required members and unknown keys; this adds
enums, string lengths and patterns, list lengths and integer ranges.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any

import botocore.session
from botocore.model import Shape
from botocore.validate import ParamValidator

try:  # patterns use \p{L}; the stdlib re cannot read them
    import regex as _re_impl
except ImportError:  # pragma: no cover - fall back to a close translation
    _re_impl = None


@cache
def model(service: str = "sagemaker") -> Any:
    return botocore.session.get_session().get_service_model(service)


def output_shape(operation: str, service: str = "sagemaker") -> Shape:
    return model(service).operation_model(operation).output_shape


@cache
def _pattern(p: str) -> Any:
    if _re_impl is not None:
        return _re_impl.compile(p)
    return re.compile(p.replace(r"\p{L}", r"\w").replace(r"\p{Z}", r"\s").replace(r"\p{N}", r"\d"))


def constraint_errors(value: Any, shape: Shape, path: str = "") -> list[str]:
    errors: list[str] = []
    meta = shape.metadata
    t = shape.type_name
    if t == "structure" and isinstance(value, dict):
        for k, v in value.items():
            if k in shape.members:
                errors += constraint_errors(v, shape.members[k], f"{path}.{k}")
    elif t == "list" and isinstance(value, list):
        if "min" in meta and len(value) < meta["min"]:
            errors.append(f"{path}: list shorter than {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: list longer than {meta['max']}")
        for n, item in enumerate(value):
            errors += constraint_errors(item, shape.member, f"{path}[{n}]")
    elif t == "map" and isinstance(value, dict):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: map larger than {meta['max']}")
        for k, v in value.items():
            errors += constraint_errors(k, shape.key, f"{path}<key>")
            errors += constraint_errors(v, shape.value, f"{path}[{k}]")
    elif t == "string" and isinstance(value, str):
        if "enum" in meta and value not in meta["enum"]:
            errors.append(f"{path}: {value!r} not in enum {shape.name}")
        if "min" in meta and len(value) < meta["min"]:
            errors.append(f"{path}: {value!r} shorter than {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: string of {len(value)} longer than {meta['max']}")
        if "pattern" in meta and not _pattern(meta["pattern"]).fullmatch(value):
            errors.append(f"{path}: {value!r} does not match {meta['pattern']}")
    elif t in ("integer", "long") and isinstance(value, int):
        if "min" in meta and value < meta["min"]:
            errors.append(f"{path}: {value} below {meta['min']}")
        if "max" in meta and value > meta["max"]:
            errors.append(f"{path}: {value} above {meta['max']}")
    elif t == "timestamp" and not isinstance(value, datetime):
        errors.append(f"{path}: {value!r} is not a datetime")
    return errors


def assert_valid(value: dict[str, Any], shape: Shape) -> None:
    """Fail with every problem found; ``value`` is in boto3's parsed form (datetimes)."""
    report = ParamValidator().validate(value, shape)
    problems = [report.generate_report()] if report.has_errors() else []
    problems += constraint_errors(value, shape)
    assert not problems, "\n".join(problems)
