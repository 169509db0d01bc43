"""Failure signatures: the reason with job-specific details normalised away.

Two jobs that failed for the same cause should share a signature even when
their reasons differ in names, numbers, paths, IDs or addresses, so the
failures page can group them.
"""

from __future__ import annotations

import re

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"arn:aws[\w-]*:[^\s'\",)]+"), "<arn>"),
    (re.compile(r"s3://[^\s'\",)]+"), "<s3>"),
    (re.compile(r"https?://[^\s'\",)]+"), "<url>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<id>"),
    (re.compile(r"\b\d{12}\.dkr\.ecr\.[\w.-]+/[^\s'\",)]+"), "<image>"),
    (re.compile(r"(?<![\w])/(?:[\w.@-]+/)+[\w.@-]*"), "<path>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"\b[0-9a-f]{12,}\b", re.I), "<hex>"),
    (re.compile(r"\b[a-z][\w-]*-\d[\w-]*\b", re.I), "<name>"),
    # Digits inside words stay ("S3", "p4d"); free-standing numbers go.
    (re.compile(r"(?<![\w.])\d+(?:\.\d+)?"), "<n>"),
)
_WHITESPACE = re.compile(r"\s+")
_MAX_LENGTH = 300


def failure_signature(reason: str) -> str:
    """A short, stable key for grouping failure reasons."""
    if not reason:
        return ""
    text = reason
    for pattern, token in _RULES:
        text = pattern.sub(token, text)
    text = _WHITESPACE.sub(" ", text).strip()
    return text[:_MAX_LENGTH]
