"""Failure signatures: the reason with job-specific details normalised away.

Two jobs that failed for the same cause should share a signature even when
their reasons differ in names, numbers, paths, IDs or addresses, so the
failures page can group them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# A host name is at most 253 characters: bounding the registry part keeps a
# long run of "<account>.dkr.ecr." without a "/" from being rescanned from
# every occurrence (quadratic in the run's length).
_IMAGE = re.compile(r"\b\d{12}\.dkr\.ecr\.[\w.-]{1,253}/[^\s'\",)]+")
# A run of word characters and dashes: one token for _name_in_run.
_RUN = re.compile(r"[\w-]+")
_LETTER = re.compile(r"[a-z]", re.I)
_DASH_LETTER = re.compile(r"-[a-z]", re.I)
_DASH_DIGIT = re.compile(r"-\d")


def _name_in_run(match: re.Match[str]) -> str:
    """``\\b[a-z][\\w-]*-\\d[\\w-]*\\b`` applied to one run of word characters and dashes, in linear time.

    That pattern, run over the text, tried each "-<letter>" of a long run as
    a start and scanned to the run's end from each (quadratic). Its matches
    are: from the run's first word start (its first character if a letter,
    else the first letter after a "-") to its last word character, provided
    a "-<digit>" follows that start. The same here, with one scan each.
    """
    run = match.group()
    if _LETTER.match(run):
        start = 0
    else:
        first = _DASH_LETTER.search(run)
        if first is None:
            return run
        start = first.start() + 1
    if not _DASH_DIGIT.search(run, start):
        return run
    end = len(run.rstrip("-"))
    return run[:start] + "<name>" + run[end:]


_RULES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"arn:aws[\w-]*:[^\s'\",)]+"), "<arn>"),
    (re.compile(r"s3://[^\s'\",)]+"), "<s3>"),
    (re.compile(r"https?://[^\s'\",)]+"), "<url>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<id>"),
    (_IMAGE, "<image>"),
    (re.compile(r"(?<![\w])/(?:[\w.@-]+/)+[\w.@-]*"), "<path>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"\b[0-9a-f]{12,}\b", re.I), "<hex>"),
    # r"\b[a-z][\w-]*-\d[\w-]*\b" (re.I): names such as "resnet-50" or "job-17-a".
    (_RUN, _name_in_run),
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
