"""Cells for a CSV file that people open in a spreadsheet.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and
some also after a tab or carriage return) as a formula, so text from AWS
(failure reasons, tags, hyperparameters) could run one on the reader's
machine. Such text is prefixed with an apostrophe, which spreadsheets show
as text. A plain number such as ``-0.5`` is left alone: it is no formula,
and hyperparameters are strings that are often negative numbers.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell: None as empty, text that could be a formula as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value
